// Thin POSIX wrappers. Each returns its result (>= 0) or -errno, never
// throws, never retries EINTR (callers decide: the classic lesson needs to
// see it), and knows nothing of Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

namespace posix {

// A socket address in the form users read: family, numeric host, port.
struct SockAddr {
  int family = 0;          // AF_INET, AF_INET6, AF_UNIX
  char host[108] = {0};    // numeric address, or the path for AF_UNIX
  int port = 0;            // host byte order; 0 for AF_UNIX
};

// socket(2): returns a new descriptor (close-on-exec) or -errno.
int Socket(int domain, int type, int protocol);
// socketpair(2): fills sv[2] with two connected descriptors (close-on-exec); returns 0 or -errno.
int SocketPair(int domain, int type, int sv[2]);
// setsockopt(2) with an int value: returns 0 or -errno.
int SetSockOptInt(int fd, int level, int name, int value);
// getsockopt(2) for an int value: returns 0 and sets *value, or -errno.
int GetSockOptInt(int fd, int level, int name, int* value);
// bind(2) to a numeric IPv4/IPv6 host, or with port < 0 to the AF_UNIX
// path host ("@name": Linux's abstract namespace): returns 0, -errno, or
// -EINVAL for a non-numeric host or a path too long for sun_path.
int Bind(int fd, const char* host, int port);
// connect(2), with the addresses of Bind: returns 0 or -errno.
int Connect(int fd, const char* host, int port);
// sendto(2) of one datagram to the AF_UNIX path (or "@name"): returns the
// bytes sent or -errno (-EINVAL for a path too long). sd_notify(3)'s call.
ssize_t SendTo(int fd, const void* buf, size_t len, const char* path);
// listen(2): returns 0 or -errno.
int Listen(int fd, int backlog);
// A graceful stop's first step on a listening socket: the kernel queues no
// new connection, and those already queued can still be accepted. TCP
// (Linux): a socket filter that drops every packet (SO_ATTACH_FILTER,
// socket(7)), so a new client's SYN goes unanswered and is retransmitted
// (StopListening then refuses it); AF_UNIX: shutdown(2) SHUT_RD, after which
// connect(2) fails with ECONNREFUSED. Returns 0, -ENOTSUP (TCP on macOS) or
// -errno.
int StopQueueing(int fd);
// The connections waiting in a TCP listening socket's accept queue (Linux:
// TCP_INFO's tcpi_unacked, tcp(7)), or -ENOTSUP (AF_UNIX, macOS), -errno.
int AcceptQueueLength(int fd);
// The last step, once the queue is drained: new connections are refused
// (TCP: shutdown(2) takes the socket out of LISTEN, a SYN gets a reset;
// what is still queued is reset too). The descriptor stays open for
// close(2). Returns 0 or -errno (-ENOTSUP where shutdown(2) cannot do it).
int StopListening(int fd);
// accept(2), blocking unless fd is non-blocking: returns the connection
// descriptor (blocking, close-on-exec) and fills *peer, or -errno.
int Accept(int fd, SockAddr* peer);
// getsockname(2)/getpeername(2): return 0 and fill *out, or -errno.
int GetSockName(int fd, SockAddr* out);
int GetPeerName(int fd, SockAddr* out);
// read(2)/recv(2)/write(2)/send(2): return a byte count or -errno.
ssize_t Read(int fd, void* buf, size_t len);
ssize_t Recv(int fd, void* buf, size_t len, int flags);
ssize_t Write(int fd, const void* buf, size_t len);
ssize_t Send(int fd, const void* buf, size_t len, int flags);
// Writes all of buf, retrying short writes and EINTR: returns len or -errno.
ssize_t WriteAll(int fd, const void* buf, size_t len);
// sendmsg(2) of n buffers (a gather write), without SIGPIPE (MSG_NOSIGNAL):
// returns the bytes sent or -errno (EAGAIN on a full non-blocking socket).
ssize_t SendMsg(int fd, const struct iovec* iov, int n, int flags);
// Sends all n buffers, retrying short writes and EINTR (iov is consumed:
// its entries are advanced). Returns the total or -errno.
ssize_t SendAll(int fd, struct iovec* iov, int n);
// shutdown(2)/close(2): return 0 or -errno.
int Shutdown(int fd, int how);
int Close(int fd);
// fcntl(2) O_NONBLOCK on or off: returns 0 or -errno.
int SetNonBlocking(int fd, bool on);
// fork(2): returns 0 in the child, the child's pid in the parent, or -errno.
// Signals are blocked across the call so no handler runs half-forked. The
// hooks set with SetForkHooks run around it (in a Node process they make the
// V8 heap inheritable and park Node's threads: node/fork_hooks.h).
pid_t Fork();
// Like pthread_atfork(3), but only for Fork() (never for libuv's spawn):
// prepare runs in the calling thread before fork(2), parent after it in the
// parent (also when it failed), child in the child before Fork() returns.
// Any may be null. One set; a new call replaces it.
struct ForkHooks {
  void (*prepare)();
  void (*parent)();
  void (*child)();
};
void SetForkHooks(const ForkHooks& hooks);

// The decoded status of waitpid(2).
struct WaitStatus {
  pid_t pid = 0;        // 0 with WNOHANG when no child has changed state
  bool exited = false;  // WIFEXITED
  int exit_code = 0;    // WEXITSTATUS
  bool signaled = false;  // WIFSIGNALED
  int signal = 0;         // WTERMSIG
  bool core_dumped = false;
  bool stopped = false;   // WIFSTOPPED
  int stop_signal = 0;    // WSTOPSIG
};
// waitpid(2): returns the pid (0 with WNOHANG and nothing to reap) and fills
// *status, or -errno (ECHILD when there are no children, EINTR).
pid_t WaitPid(pid_t pid, int options, WaitStatus* status);
// waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT): an exited child, left a
// zombie (not reaped). Returns its pid with *status filled, 0 when no child
// has exited, or -errno (-ECHILD: no children). POSIX waitid(3p).
pid_t PeekExited(WaitStatus* status);
// Memory shared with every process forked after it: a MAP_SHARED mapping of
// `size` zeroed bytes. On Linux it is a memfd_create(2) file named `name`
// (close-on-exec), whose descriptor goes to *fd, so another process may read
// it through /proc/PID/fd/N; elsewhere an anonymous mapping (*fd = -1).
// Returns the mapping, or nullptr with *fd = -errno.
void* SharedMemory(const char* name, size_t size, int* fd);
// CLOCK_MONOTONIC in milliseconds, from the coarse clock where there is one
// (CLOCK_MONOTONIC_COARSE: a tick of 1-4 ms, no vDSO work beyond a load):
// the one clock of every engine timeout and deadline.
int64_t MonotonicMs();
// kill(2): returns 0 or -errno.
int Kill(pid_t pid, int sig);
// The resident set size of pid in bytes, shared pages included (Linux:
// /proc/PID/statm's resident pages, proc(5); macOS: proc_pidinfo
// PROC_PIDTASKINFO's pti_resident_size), or -errno (-ESRCH: no such process).
int64_t ResidentBytes(pid_t pid);
// Whether descriptor fd1 of pid1 and fd2 of pid2 refer to one open file
// description (kcmp(2) KCMP_FILE, Linux; needs ptrace access to both):
// returns 1 if they do, 0 if not, or -errno (-ENOSYS elsewhere, -EPERM,
// -EBADF, -ESRCH).
int SameOpenFile(pid_t pid1, int fd1, pid_t pid2, int fd2);
// getrlimit(2)/setrlimit(2); RLIM_INFINITY is reported as -1. Return 0 or -errno.
int GetRLimit(int resource, int64_t* soft, int64_t* hard);
int SetRLimit(int resource, int64_t soft, int64_t hard);
// execv(3), keeping descriptors 0-2 and keep[0..keep_count) open across it
// (their FD_CLOEXEC cleared): only returns on failure, with -errno.
int Execv(const char* path, char* const argv[], const int* keep = nullptr, size_t keep_count = 0);
// fork(2), then execve(2) in the child at once, as posix_spawn(3) does: the
// child of a multi-threaded process may run only async-signal-safe calls
// (fork(2), POSIX), so it resets every signal's disposition to SIG_DFL,
// empties its signal mask, clears FD_CLOEXEC on 0-2 and keep[], and execs;
// no fork hook runs. An execve(2) failure ends the child with status 127
// (sh(1)'s "command not found"). Returns the child's pid, or -errno of fork
// (EAGAIN, ENOMEM).
pid_t ForkExec(const char* path, char* const argv[], char* const envp[], const int* keep, size_t keep_count);
// alarm(2): returns the seconds left on the previous alarm.
unsigned Alarm(unsigned seconds);

}  // namespace posix
