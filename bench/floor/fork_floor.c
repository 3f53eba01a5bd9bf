/*
 * fork_floor: the smallest fork-per-connection HTTP server worth measuring,
 * the floor the fork engine is compared with in `npm run bench`.
 *
 *   cc -O2 -o fork_floor fork_floor.c
 *   ./fork_floor [-m MIB] HOST PORT
 *
 * The parent accepts, forks, closes its copy of the connection and goes on
 * accepting. The SIGCHLD handler (installed without SA_RESTART, so a blocked
 * accept(2) returns EINTR and is retried) reaps with waitpid(-1, WNOHANG)
 * until nothing is left: one signal may stand for many exits. The child reads the request head (up to the blank
 * line, the whole request of a GET), writes a fixed "Hello, World!" response
 * with Content-Length and Connection: close, and calls _exit(0).
 *
 * -m MIB mallocs and touches MIB MiB before serving, so the parent's address
 * space is as large as a Node parent's: fork(2) copies page tables in
 * proportion to the resident anonymous memory, and each child's exit tears
 * them down. That is the "size-adjusted" floor.
 *
 * It prints "Listening at: http://HOST:PORT (PID)" on stderr when ready, like
 * forkserve, and stops on SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_stop = 0;

/* waitpid(2) is async-signal-safe; errno is saved for the interrupted code. */
static void on_chld(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static void on_stop(int sig) {
  (void)sig;
  got_stop = 1;
}

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: fork_floor\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "Connection: close\r\n"
    "\r\n"
    "Hello, World!";

static void serve_child(int conn) {
  char buf[8192];
  size_t have = 0;
  /* Read until the end of the head ("\r\n\r\n") or the buffer is full. */
  while (have < sizeof buf - 1) {
    ssize_t n = read(conn, buf + have, sizeof buf - 1 - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(0);
    have += (size_t)n;
    buf[have] = 0;
    if (strstr(buf, "\r\n\r\n")) break;
  }
  const char* p = RESPONSE;
  size_t left = sizeof RESPONSE - 1;
  while (left > 0) {
    ssize_t n = write(conn, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    p += n;
    left -= (size_t)n;
  }
  _exit(0);
}

static void usage(void) {
  fprintf(stderr, "usage: fork_floor [-m MIB] HOST PORT\n");
  exit(2);
}

int main(int argc, char** argv) {
  long inflate_mib = 0;
  int opt;
  while ((opt = getopt(argc, argv, "m:")) != -1) {
    if (opt == 'm') {
      char* end;
      inflate_mib = strtol(optarg, &end, 10);
      if (*end || inflate_mib < 0) usage();
    } else {
      usage();
    }
  }
  if (argc - optind != 2) usage();
  const char* host = argv[optind];
  int port = atoi(argv[optind + 1]);

  if (inflate_mib > 0) {
    /* One large private anonymous region, every page written: resident and
     * copied (its page tables) by each fork, like a Node parent's heap. */
    size_t bytes = (size_t)inflate_mib << 20;
    char* mem = malloc(bytes);
    if (!mem) {
      perror("malloc");
      return 1;
    }
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < bytes; i += (size_t)page) mem[i] = (char)(i >> 12 | 1);
    /* mem is kept for the life of the process. */
  }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_chld; /* no SA_RESTART: accept() returns EINTR */
  sigaction(SIGCHLD, &sa, NULL);
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) usage();
  if (bind(fd, (struct sockaddr*)&addr, sizeof addr) < 0) {
    perror("bind");
    return 1;
  }
  if (listen(fd, 2048) < 0) {
    perror("listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(fd, (struct sockaddr*)&addr, &alen);
  fprintf(stderr, "Listening at: http://%s:%d (%d)\n", host, ntohs(addr.sin_port), (int)getpid());

  while (!got_stop) {
    int conn = accept(fd, NULL, NULL);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        usleep(1000);
        continue;
      }
      perror("accept");
      return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(fd);
      signal(SIGCHLD, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      signal(SIGINT, SIG_DFL);
      serve_child(conn);
    }
    if (pid < 0) perror("fork");
    close(conn);
  }
  /* Stopping: wait for the children still serving (the handler may reap some). */
  close(fd);
  signal(SIGCHLD, SIG_DFL);
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
  }
  return 0;
}
