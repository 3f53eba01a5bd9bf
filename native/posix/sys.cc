#include "posix/sys.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#ifdef __linux__
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#endif
#ifdef __APPLE__
#include <libproc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "posix/signals.h"

namespace posix {

static int Result(int r) { return r < 0 ? -errno : r; }
static ssize_t ResultSize(ssize_t r) { return r < 0 ? -errno : r; }

#ifndef __linux__
static void SetCloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }
#endif

int Socket(int domain, int type, int protocol) {
#ifdef SOCK_CLOEXEC
  return Result(socket(domain, type | SOCK_CLOEXEC, protocol));
#else
  int fd = socket(domain, type, protocol);
  if (fd >= 0) SetCloexec(fd);
  return Result(fd);
#endif
}

int SocketPair(int domain, int type, int sv[2]) {
#ifdef SOCK_CLOEXEC
  return Result(socketpair(domain, type | SOCK_CLOEXEC, 0, sv));
#else
  if (socketpair(domain, type, 0, sv) < 0) return -errno;
  SetCloexec(sv[0]);
  SetCloexec(sv[1]);
  return 0;
#endif
}

int SetSockOptInt(int fd, int level, int name, int value) {
  return Result(setsockopt(fd, level, name, &value, sizeof value));
}

int GetSockOptInt(int fd, int level, int name, int* value) {
  socklen_t len = sizeof *value;
  return Result(getsockopt(fd, level, name, value, &len));
}

// Fills a sockaddr from a numeric host; returns its length or -EINVAL.
// port < 0: host is an AF_UNIX path, or an abstract name written "@name"
// (Linux: sun_path starts with a NUL, unix(7)). Too long a path: 0.
static socklen_t ToSockaddr(const char* host, int port, sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  if (port < 0) {
    auto* un = reinterpret_cast<sockaddr_un*>(ss);
    size_t n = strlen(host);
    if (n == 0 || n >= sizeof un->sun_path) return 0;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, host, n);
    if (host[0] == '@') {
      un->sun_path[0] = '\0';
      return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
    }
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
  }
  auto* in4 = reinterpret_cast<sockaddr_in*>(ss);
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    return sizeof *in4;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    return sizeof *in6;
  }
  return 0;
}

static void FromSockaddr(const sockaddr_storage* ss, SockAddr* out) {
  *out = SockAddr();
  out->family = ss->ss_family;
  if (ss->ss_family == AF_INET) {
    auto* in4 = reinterpret_cast<const sockaddr_in*>(ss);
    inet_ntop(AF_INET, &in4->sin_addr, out->host, sizeof out->host);
    out->port = ntohs(in4->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, out->host, sizeof out->host);
    out->port = ntohs(in6->sin6_port);
  } else if (ss->ss_family == AF_UNIX) {
    auto* un = reinterpret_cast<const sockaddr_un*>(ss);
    if (un->sun_path[0] == '\0' && un->sun_path[1] != '\0') snprintf(out->host, sizeof out->host, "@%s", un->sun_path + 1);
    else snprintf(out->host, sizeof out->host, "%s", un->sun_path);
  }
}

int Bind(int fd, const char* host, int port) {
  sockaddr_storage ss;
  socklen_t len = ToSockaddr(host, port, &ss);
  if (len == 0) return -EINVAL;
  return Result(bind(fd, reinterpret_cast<sockaddr*>(&ss), len));
}

int Connect(int fd, const char* host, int port) {
  sockaddr_storage ss;
  socklen_t len = ToSockaddr(host, port, &ss);
  if (len == 0) return -EINVAL;
  return Result(connect(fd, reinterpret_cast<sockaddr*>(&ss), len));
}

int Listen(int fd, int backlog) { return Result(listen(fd, backlog)); }

int StopQueueing(int fd) {
  SockAddr a;
  int r = GetSockName(fd, &a);
  if (r < 0) return r;
  int family = a.family;
  if (family == AF_UNIX) return Result(shutdown(fd, SHUT_RD));
#ifdef __linux__
  struct sock_filter drop[] = {BPF_STMT(BPF_RET | BPF_K, 0)};  // accept 0 bytes: drop
  struct sock_fprog prog = {1, drop};
  return Result(setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog));
#else
  return -ENOTSUP;
#endif
}

int AcceptQueueLength(int fd) {
#ifdef __linux__
  SockAddr a;
  int r = GetSockName(fd, &a);
  if (r < 0) return r;
  int family = a.family;
  if (family != AF_INET && family != AF_INET6) return -ENOTSUP;
  struct tcp_info info;
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0) return -errno;
  return static_cast<int>(info.tcpi_unacked);  // for a listening socket: its accept queue
#else
  (void)fd;
  return -ENOTSUP;
#endif
}

int StopListening(int fd) {
  SockAddr a;
  int r = GetSockName(fd, &a);
  if (r < 0) return r;
  int family = a.family;
  if (family == AF_UNIX) return Result(shutdown(fd, SHUT_RD));  // StopQueueing's, again: harmless
#ifdef __linux__
  return Result(shutdown(fd, SHUT_RDWR));
#else
  return -ENOTSUP;
#endif
}

int Accept(int fd, SockAddr* peer) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
#ifdef __linux__
  // accept4 never inherits O_NONBLOCK on Linux; close-on-exec set atomically.
  int c = accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (c < 0) return -errno;
#else
  int c = accept(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  if (c < 0) return -errno;
  SetCloexec(c);
  // BSD accept() copies O_NONBLOCK from the listener; connections are blocking.
  SetNonBlocking(c, false);
  int one = 1;
  setsockopt(c, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
  if (peer) FromSockaddr(&ss, peer);
  return c;
}

int GetSockName(int fd, SockAddr* out) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -errno;
  FromSockaddr(&ss, out);
  return 0;
}

int GetPeerName(int fd, SockAddr* out) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return -errno;
  FromSockaddr(&ss, out);
  return 0;
}

ssize_t Read(int fd, void* buf, size_t len) { return ResultSize(read(fd, buf, len)); }
ssize_t Recv(int fd, void* buf, size_t len, int flags) {
  return ResultSize(recv(fd, buf, len, flags));
}
ssize_t Write(int fd, const void* buf, size_t len) { return ResultSize(write(fd, buf, len)); }

ssize_t Send(int fd, const void* buf, size_t len, int flags) {
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;  // a vanished peer is EPIPE, not a process-killing SIGPIPE
#endif
  return ResultSize(send(fd, buf, len, flags));
}

ssize_t SendTo(int fd, const void* buf, size_t len, const char* path) {
  sockaddr_storage ss;
  socklen_t alen = ToSockaddr(path, -1, &ss);
  if (alen == 0) return -EINVAL;
  int flags = 0;
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;
#endif
  return ResultSize(sendto(fd, buf, len, flags, reinterpret_cast<sockaddr*>(&ss), alen));
}

ssize_t WriteAll(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  size_t left = len;
  while (left > 0) {
    ssize_t n = Send(fd, p, left, 0);
    if (n == -ENOTSOCK) n = Write(fd, p, left);
    if (n == -EINTR) continue;
    if (n < 0) return n;
    p += n;
    left -= static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(len);
}

ssize_t SendMsg(int fd, const struct iovec* iov, int n, int flags) {
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(n);
#ifdef MSG_NOSIGNAL
  flags |= MSG_NOSIGNAL;
#endif
  return ResultSize(sendmsg(fd, &msg, flags));
}

ssize_t SendAll(int fd, struct iovec* iov, int n) {
  ssize_t total = 0;
  while (n > 0 && iov[0].iov_len == 0) iov++, n--;
  while (n > 0) {
    ssize_t w = SendMsg(fd, iov, n, 0);
    if (w == -ENOTSOCK) w = ResultSize(writev(fd, iov, n));  // a pipe or a file, as WriteAll allows
    if (w == -EINTR) continue;
    if (w < 0) return w;
    total += w;
    size_t left = static_cast<size_t>(w);
    while (n > 0 && left >= iov[0].iov_len) {
      left -= iov[0].iov_len;
      iov++, n--;
    }
    if (n > 0) {
      iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + left;
      iov[0].iov_len -= left;
    }
    while (n > 0 && iov[0].iov_len == 0) iov++, n--;
  }
  return total;
}

int Shutdown(int fd, int how) { return Result(shutdown(fd, how)); }

int Close(int fd) {
  // POSIX leaves the descriptor's state unspecified after EINTR; on Linux and
  // macOS it is closed, so retrying could close someone else's new descriptor.
  int r = close(fd);
  if (r < 0 && errno == EINTR) return 0;
  return Result(r);
}

int SetNonBlocking(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return -errno;
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want == flags) return 0;
  return Result(fcntl(fd, F_SETFL, want));
}

static ForkHooks g_fork_hooks = {nullptr, nullptr, nullptr};

void SetForkHooks(const ForkHooks& hooks) { g_fork_hooks = hooks; }

pid_t Fork() {
  if (g_fork_hooks.prepare) g_fork_hooks.prepare();
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  int err = errno;
  if (pid == 0) {
    SignalsAfterForkInChild();
    if (g_fork_hooks.child) g_fork_hooks.child();
  } else if (g_fork_hooks.parent) {
    g_fork_hooks.parent();
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return pid < 0 ? -err : pid;
}

pid_t WaitPid(pid_t pid, int options, WaitStatus* st) {
  int raw = 0;
  pid_t r = waitpid(pid, &raw, options);
  if (r < 0) return -errno;
  *st = WaitStatus();
  st->pid = r;
  if (r == 0) return 0;
  if (WIFEXITED(raw)) {
    st->exited = true;
    st->exit_code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    st->signaled = true;
    st->signal = WTERMSIG(raw);
#ifdef WCOREDUMP
    st->core_dumped = WCOREDUMP(raw);
#endif
  } else if (WIFSTOPPED(raw)) {
    st->stopped = true;
    st->stop_signal = WSTOPSIG(raw);
  }
  return r;
}

pid_t PeekExited(WaitStatus* st) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) < 0) return -errno;
  *st = WaitStatus();
  st->pid = info.si_pid;  // 0: none has exited (WNOHANG)
  if (info.si_pid == 0) return 0;
  if (info.si_code == CLD_EXITED) {
    st->exited = true;
    st->exit_code = info.si_status;
  } else {
    st->signaled = true;
    st->signal = info.si_status;
    st->core_dumped = info.si_code == CLD_DUMPED;
  }
  return info.si_pid;
}

void* SharedMemory(const char* name, size_t size, int* fd) {
#ifdef __linux__
  int f = memfd_create(name, MFD_CLOEXEC);
  if (f < 0) {
    *fd = -errno;
    return nullptr;
  }
  if (ftruncate(f, static_cast<off_t>(size)) < 0) {
    *fd = -errno;
    close(f);
    return nullptr;
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  if (p == MAP_FAILED) {
    *fd = -errno;
    close(f);
    return nullptr;
  }
  *fd = f;
  return p;
#else
  (void)name;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANON, -1, 0);
  *fd = p == MAP_FAILED ? -errno : -1;
  return p == MAP_FAILED ? nullptr : p;
#endif
}

int64_t MonotonicMs() {
  struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
  clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int Kill(pid_t pid, int sig) { return Result(kill(pid, sig)); }

int GetRLimit(int resource, int64_t* soft, int64_t* hard) {
  struct rlimit rl;
  if (getrlimit(resource, &rl) < 0) return -errno;
  *soft = rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<int64_t>(rl.rlim_cur);
  *hard = rl.rlim_max == RLIM_INFINITY ? -1 : static_cast<int64_t>(rl.rlim_max);
  return 0;
}

int SetRLimit(int resource, int64_t soft, int64_t hard) {
  struct rlimit rl;
  rl.rlim_cur = soft < 0 ? RLIM_INFINITY : static_cast<rlim_t>(soft);
  rl.rlim_max = hard < 0 ? RLIM_INFINITY : static_cast<rlim_t>(hard);
  return Result(setrlimit(resource, &rl));
}

// Clears FD_CLOEXEC on fd (if it is open).
static void Inherit(int fd) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0 && (flags & FD_CLOEXEC)) fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
}

int Execv(const char* path, char* const argv[], const int* keep, size_t keep_count) {
  // libuv marks the stdio descriptors it opens close-on-exec (and pipes
  // non-blocking); the new image must inherit stdin, stdout and stderr.
  // Node also marks inherited descriptors close-on-exec at start-up (a
  // socket systemd passed on fd 3 among them): keep lists those that must
  // survive.
  for (int fd = 0; fd <= 2; fd++) Inherit(fd);
  for (size_t i = 0; i < keep_count; i++) Inherit(keep[i]);
  execv(path, argv);
  return -errno;
}

pid_t ForkExec(const char* path, char* const argv[], char* const envp[], const int* keep, size_t keep_count) {
  // No handler of ours may run in the child before its dispositions are reset.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) sigaction(sig, &dfl, nullptr);  // EINVAL for SIGKILL/SIGSTOP: harmless
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    for (int fd = 0; fd <= 2; fd++) Inherit(fd);
    for (size_t i = 0; i < keep_count; i++) Inherit(keep[i]);
    execve(path, argv, envp);
    _exit(127);
  }
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return pid < 0 ? -err : pid;
}

unsigned Alarm(unsigned seconds) { return alarm(seconds); }

int64_t ResidentBytes(pid_t pid) {
#ifdef __APPLE__
  struct proc_taskinfo info;
  int n = proc_pidinfo(pid, PROC_PIDTASKINFO, 0, &info, sizeof info);
  if (n <= 0) return errno ? -errno : -ESRCH;
  return static_cast<int64_t>(info.pti_resident_size);
#else
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/statm", static_cast<int>(pid));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? -ESRCH : -errno;
  char buf[128];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n <= 0) return n < 0 ? -err : -ESRCH;
  buf[n] = 0;
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return -EINVAL;
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
#endif
}

int SameOpenFile(pid_t pid1, int fd1, pid_t pid2, int fd2) {
#ifdef __linux__
  long r = syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);
  if (r < 0) return -errno;
  return r == 0 ? 1 : 0;
#else
  (void)pid1, (void)fd1, (void)pid2, (void)fd2;
  return -ENOSYS;
#endif
}

}  // namespace posix
