#include "engine/fork_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <unordered_set>

#include "http/response.h"
#include "engine/stop.h"
#include "posix/signals.h"

namespace engine {

static int g_wake_pipe[2] = {-1, -1};

// Runs inside the signal handler (posix::SignalNotify): write(2) is async-signal-safe.
static void WakeParent(int) {
  int saved = errno;
  if (g_wake_pipe[1] >= 0) {
    char b = 1;
    ssize_t r = write(g_wake_pipe[1], &b, 1);
    (void)r;
  }
  errno = saved;
}

static void DrainWakePipe() {
  char buf[64];
  while (read(g_wake_pipe[0], buf, sizeof buf) > 0) {
  }
}

static std::unordered_set<pid_t> g_children;

int ReapChildren(ForkLoopEvents* events) {
  int reaped = 0;
  posix::WaitStatus st;
  // One SIGCHLD may stand for many exits (signals do not queue): loop.
  while (posix::WaitPid(-1, WNOHANG, &st) > 0) {
    g_children.erase(st.pid);
    reaped++;
    if (events) events->OnReaped(st);
  }
  return reaped;
}

static int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Waits for the wake pipe (or a connection, when listen_fd >= 0) up to timeout_ms.
static void WaitForEvent(int listen_fd, int timeout_ms) {
  struct pollfd p[2] = {{g_wake_pipe[0], POLLIN, 0}, {listen_fd, POLLIN, 0}};
  poll(p, listen_fd >= 0 ? 2 : 1, timeout_ms);  // EINTR: a signal; the caller looks
}

static void KillChildren(int sig) {
  for (pid_t pid : g_children) kill(pid, sig);
}

// Stops the server: waits for children (graceful) or signals them (fast).
static void Shutdown(const ForkLoopOptions& opt, ForkLoopEvents* events, bool graceful) {
  // Graceful: children finish the request in progress (stop.h). Fast: now.
  KillChildren(graceful ? SIGTERM : SIGKILL);
  int64_t deadline = NowMs() + (graceful ? opt.graceful_timeout_ms : 2000);
  while (!g_children.empty()) {
    ReapChildren(events);
    if (g_children.empty()) break;
    int64_t left = deadline - NowMs();
    if (left <= 0) {
      KillChildren(SIGKILL);
      deadline = NowMs() + 5000;
    }
    WaitForEvent(-1, left > 0 ? static_cast<int>(left < 100 ? left : 100) : 100);
    DrainWakePipe();
  }
}

static const int kHandled[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT};
static posix::SignalNotify g_previous_notify = nullptr;  // TypeScript's delivery, given back on return

static void RestoreSignals() {
  for (int sig : kHandled) posix::SignalReset(sig, false);
  posix::SignalSetNotify(g_previous_notify);
}

static void CloseWakePipe() {
  for (int& fd : g_wake_pipe) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

ForkLoopResult RunForkLoop(const ForkLoopOptions& opt, ForkLoopEvents* events) {
  ForkLoopResult res;
  if (pipe(g_wake_pipe) < 0) {
    res.error = -errno;
    return res;
  }
  for (int fd : g_wake_pipe) {
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  // poll(2) tells when to accept; a connection reset in between must not block us.
  posix::SetNonBlocking(opt.listen_fd, true);
  g_previous_notify = posix::SignalSetNotify(WakeParent);
  for (int sig : kHandled) posix::SignalInstall(sig, /*restart=*/false);

  for (;;) {
    if (posix::SignalTake(SIGCHLD)) ReapChildren(events);
    int stop = posix::SignalTake(SIGTERM) ? SIGTERM
               : posix::SignalTake(SIGINT) ? SIGINT
               : posix::SignalTake(SIGQUIT) ? SIGQUIT : 0;
    if (stop) {
      res.stop_signal = stop;
      Shutdown(opt, events, stop == SIGTERM);
      break;
    }
    if (opt.max_children > 0 && static_cast<int>(g_children.size()) >= opt.max_children) {
      WaitForEvent(-1, 1000);  // a child's SIGCHLD wakes us; the timeout is a safety net
      DrainWakePipe();
      continue;
    }
    WaitForEvent(opt.listen_fd, -1);
    DrainWakePipe();
    posix::SockAddr peer;
    int conn = posix::Accept(opt.listen_fd, &peer);
    if (conn < 0) {
      // EINTR: a handler ran (SIGCHLD): reap and accept again. EAGAIN: someone else took it.
      if (conn != -EINTR && conn != -EAGAIN && conn != -ECONNABORTED) {
        events->OnAcceptFailed(conn);
        if (conn == -EMFILE || conn == -ENFILE) WaitForEvent(-1, 100);  // let children exit and free some
      }
      continue;
    }
    pid_t pid = posix::Fork();
    if (pid == 0) {
      // The child: it serves one connection and owes nothing to the loop.
      posix::Close(opt.listen_fd);
      CloseWakePipe();
      RestoreSignals();
      InstallGracefulStop();
      g_children.clear();
      res.child = true;
      res.conn_fd = conn;
      res.peer = peer;
      return res;
    }
    if (pid < 0) {
      std::string resp = http::ErrorResponse(503);
      posix::WriteAll(conn, resp.data(), resp.size());
      posix::Close(conn);
      events->OnForkFailed(pid);
      WaitForEvent(-1, 10);  // EAGAIN: give exiting children a moment
      continue;
    }
    g_children.insert(pid);
    posix::Close(conn);  // the child has its own copy; ours would keep the client waiting
  }
  RestoreSignals();
  CloseWakePipe();
  posix::SetNonBlocking(opt.listen_fd, false);
  return res;
}

}  // namespace engine
