#include "engine/fork_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <unordered_set>

#include "http/response.h"
#include "engine/counters.h"
#include "engine/head_wait.h"
#include "engine/reap.h"
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
static pid_t g_successor = 0;  // the new master of a binary upgrade, reaped here like a child
static bool g_paused = false;  // SIGWINCH: not accepting until SIGHUP

int ReapChildren(ForkLoopEvents* events) {
  return ReapExited(
      &g_successor,
      [&](const posix::WaitStatus& st) {
        g_children.erase(st.pid);
        if (events) events->OnReaped(st);
      },
      [&](const posix::WaitStatus& st) {
        if (events) events->OnSuccessorExited(st);
      });
}

static HeadWait g_heads;        // --fork-after head: connections whose request head has not all come
static bool g_head_wait = false;

// Waits for the wake pipe, the head-wait poller (--fork-after head) and,
// given listeners, a connection on one, up to timeout_ms. Returns the index
// in listen_fds of a listener that is ready, or -1 (the pipe, a signal, a
// waiting head, the timeout).
static int WaitForEvent(const std::vector<int>* listen_fds, int timeout_ms) {
  struct pollfd p[kMaxListeners + 2];
  p[0] = {g_wake_pipe[0], POLLIN, 0};
  p[1] = {g_head_wait ? g_heads.fd() : -1, POLLIN, 0};  // a negative fd is skipped
  size_t n = listen_fds ? listen_fds->size() : 0;
  for (size_t i = 0; i < n; i++) p[i + 2] = {(*listen_fds)[i], POLLIN, 0};
  if (g_head_wait) {
    int heads = g_heads.NextTimeoutMs();
    if (heads >= 0 && (timeout_ms < 0 || heads < timeout_ms)) timeout_ms = heads;
  }
  int r = poll(p, static_cast<nfds_t>(n + 2), timeout_ms);
  // Reads what came on waiting connections, answers 408 to heads past their deadline.
  if (g_head_wait && ((r > 0 && p[1].revents) || g_heads.NextTimeoutMs() == 0)) g_heads.Run();
  if (r <= 0) return -1;  // EINTR: a signal; the caller looks
  // Start after the last one served, so a busy listener cannot starve the others.
  static size_t next = 0;
  for (size_t k = 0; k < n; k++) {
    size_t i = (next + k) % n;
    if (p[i + 2].revents & (POLLIN | POLLERR | POLLHUP)) {
      next = i + 1;
      return static_cast<int>(i);
    }
  }
  return -1;
}

// --trace-forks: reports one stage of the connection fd.
static void Trace(ForkLoopEvents* events, TraceStage stage, pid_t child, int fd, const posix::SockAddr& peer) {
  TraceEvent ev;
  ev.stage = stage;
  ev.child = child;
  ev.fd = fd;
  ev.peer = peer;
  events->OnTrace(ev);
}

// --trace-forks: lets pause_ms pass, waking for signals without taking
// them (they are looked at when the loop goes on).
static void TracePause(int pause_ms) {
  int64_t deadline = posix::MonotonicMs() + pause_ms;
  for (int64_t left = pause_ms; left > 0; left = deadline - posix::MonotonicMs()) {
    WaitForEvent(nullptr, static_cast<int>(left));
    DrainWakePipe();
  }
}

// --trace-forks: before the children that exited are reaped, reports the
// first one as the zombie it is (waitid WNOWAIT leaves it one) and lets it
// stay a zombie for a pause.
static void TraceExit(const ForkLoopOptions& opt, ForkLoopEvents* events) {
  TraceEvent ev;
  ev.stage = TraceStage::kChildExited;
  if (posix::PeekExited(&ev.status) <= 0 || !g_children.count(ev.status.pid)) return;
  ev.child = ev.status.pid;
  events->OnTrace(ev);
  TracePause(opt.trace_pause_ms);
}

static void KillChildren(int sig) {
  for (pid_t pid : g_children) kill(pid, sig);
}

// Stops the server: waits for children (graceful) or signals them (fast).
static void Shutdown(const ForkLoopOptions& opt, ForkLoopEvents* events, bool graceful) {
  // Graceful: children finish the request in progress (stop.h). Fast: now.
  KillChildren(graceful ? SIGTERM : SIGKILL);
  int64_t deadline = posix::MonotonicMs() + (graceful ? opt.graceful_timeout_ms : 2000);
  while (!g_children.empty()) {
    ReapChildren(events);
    if (g_children.empty()) break;
    int64_t left = deadline - posix::MonotonicMs();
    if (left <= 0) {
      KillChildren(SIGKILL);
      deadline = posix::MonotonicMs() + 5000;
    }
    WaitForEvent(nullptr, left > 0 ? static_cast<int>(left < 100 ? left : 100) : 100);
    DrainWakePipe();
  }
}

static const int kHandled[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};
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

// The signals that return to the caller, in this order: SIGUSR2 (kUpgrade),
// SIGUSR1 (kReopen), SIGHUP (kReload), SIGWINCH (kPause, when
// options.pause_on_winch). Returns true with res->event set if one came.
static bool TakeEvent(const ForkLoopOptions& opt, ForkLoopResult* res) {
  if (posix::SignalTake(SIGUSR2)) {
    res->event = ForkLoopResult::kUpgrade;
  } else if (posix::SignalTake(SIGUSR1)) {
    res->event = ForkLoopResult::kReopen;
  } else if (posix::SignalTake(SIGHUP)) {
    g_paused = false;
    res->event = ForkLoopResult::kReload;
  } else if (posix::SignalTake(SIGWINCH) && opt.pause_on_winch && !g_paused) {
    g_paused = true;
    KillChildren(SIGTERM);  // each finishes the request in progress (stop.h)
    res->event = ForkLoopResult::kPause;
  } else {
    return false;
  }
  return true;
}

// Forks a child to serve conn (accepted from listen_fds[listener]; w: the
// head-wait entry it came through, or null). Returns true in the child,
// with *res filled; in the parent, closes its copy and returns false.
static bool ForkFor(const ForkLoopOptions& opt, ForkLoopEvents* events, int conn, posix::SockAddr peer, int listener,
                    WaitingConn* w, bool draining, ForkLoopResult* res) {
  const bool trace = opt.trace_pause_ms > 0;
  pid_t pid = posix::Fork();
  if (pid == 0) {
    // The child: it serves one connection and owes nothing to the loop.
    for (int fd : opt.listen_fds) posix::Close(fd);
    CloseWakePipe();
    counters::CloseInChild();
    if (g_head_wait) g_heads.Adopt(w);  // the bytes read so far go to the child's connection; the other waiting ones are the parent's
    // A SIGTERM for this child (a stop, a SIGWINCH) may come before its
    // own handler exists: the loop's handler then counted it, or the
    // default action would end the child with its connection unanswered.
    // Held blocked across the switch, and handed on to the new handler.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);
    bool asked_to_stop = posix::SignalTake(SIGTERM) > 0;
    RestoreSignals();
    // SIGUSR1 (reopen the logs) is ignored until the child's own handler
    // exists: its default action would end the child mid-request.
    posix::SignalReset(SIGUSR1, /*ignore=*/true);
    InstallGracefulStop();
    if (asked_to_stop) raise(SIGTERM);  // pending until unblocked: the stop handler records it
    pthread_sigmask(SIG_UNBLOCK, &term, nullptr);
    g_children.clear();
    g_successor = 0;
    res->child = true;
    res->conn_fd = conn;
    res->peer = peer;
    res->listener = listener;
    return true;
  }
  if (pid < 0) {
    std::string resp = http::ErrorResponse(503);
    posix::SetNonBlocking(conn, false);
    posix::WriteAll(conn, resp.data(), resp.size());
    counters::Response(503);
    if (w) g_heads.Close(w);
    else posix::Close(conn);
    events->OnForkFailed(pid);
    WaitForEvent(nullptr, 10);  // EAGAIN: give exiting children a moment
    return false;
  }
  g_children.insert(pid);
  if (draining) res->drained++;
  if (trace) {
    Trace(events, TraceStage::kForked, pid, conn, peer);
    TracePause(opt.trace_pause_ms);
  }
  // The child has its own copy; ours would keep the client waiting.
  if (w) g_heads.Close(w);
  else posix::Close(conn);
  if (trace) Trace(events, TraceStage::kParentClosed, pid, conn, peer);
  return false;
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
  if (opt.listen_fds.empty() || opt.listen_fds.size() > kMaxListeners) {
    CloseWakePipe();
    res.error = -EINVAL;
    return res;
  }
  // poll(2) tells when to accept; a connection reset in between must not block us.
  for (int fd : opt.listen_fds) posix::SetNonBlocking(fd, true);
  // Called again after a kUpgrade/kPause/kReload return, when the handlers (and WakeParent) are still ours.
  posix::SignalNotify previous = posix::SignalSetNotify(WakeParent);
  if (previous != WakeParent) g_previous_notify = previous;
  for (int sig : kHandled) posix::SignalInstall(sig, /*restart=*/false);
  g_successor = opt.successor;
  // A child that exited while the caller ran (no handler then) is reaped now.
  ReapChildren(events);

  // SIGTERM with no new master: the connections already in the accept
  // queue are taken and served before the listeners stop (nothing queued
  // is reset); the kernel queues no more meanwhile (posix::StopQueueing).
  bool draining = false;
  size_t drain_at = 0;  // the listener being drained: accepted from until EAGAIN, then the next
  int64_t drain_heads_until = -1;
  const bool trace = opt.trace_pause_ms > 0;
  g_head_wait = opt.fork_after_head;
  if (g_head_wait && g_heads.Open(opt.limits) < 0) g_head_wait = false;  // no poller: fork at accept, as without the option
  for (;;) {
    if (posix::SignalTake(SIGCHLD)) {
      if (trace) TraceExit(opt, events);
      ReapChildren(events);
    }
    int stop = posix::SignalTake(SIGTERM) ? SIGTERM
               : posix::SignalTake(SIGINT) ? SIGINT
               : posix::SignalTake(SIGQUIT) ? SIGQUIT : 0;
    if (stop == SIGTERM && !draining && !SocketsShared(g_successor, opt.old_master)) {
      res.stop_signal = stop;
      draining = true;
      for (int fd : opt.listen_fds) posix::StopQueueing(fd);
      continue;
    }
    if (stop) {
      res.stop_signal = stop;
      Shutdown(opt, events, stop == SIGTERM);
      break;
    }
    // While draining, the others wait: the stop comes first.
    if (!draining && TakeEvent(opt, &res)) break;
    auto full = [&] { return opt.max_children > 0 && static_cast<int>(g_children.size()) >= opt.max_children; };
    // Complete heads get their child, oldest first, while there is room.
    for (WaitingConn* w; g_head_wait && !full() && g_heads.HasReady();) {
      w = g_heads.PopReady();
      if (ForkFor(opt, events, w->fd, w->peer, w->listener, w, draining, &res)) return res;
    }
    // At the bound: no accepting, except that waiting for heads costs only
    // a descriptor, so connections are still taken while few are waiting.
    bool accept_more = !full() || (g_head_wait && g_heads.size() < opt.max_waiting);
    if ((g_paused && !draining) || (!accept_more && !draining)) {
      WaitForEvent(nullptr, 1000);  // a signal wakes us (a child's SIGCHLD, SIGHUP); the timeout is a safety net
      DrainWakePipe();
      continue;
    }
    // Draining asks accept(2) itself: poll(2) says an AF_UNIX listener shut
    // down for reading is readable even with its queue empty.
    int ready = draining ? (drain_at < opt.listen_fds.size() ? static_cast<int>(drain_at) : -1) : WaitForEvent(&opt.listen_fds, -1);
    if (!draining) DrainWakePipe();
    if (ready < 0 && draining && g_head_wait && g_heads.size() > 0) {
      // The queues are empty; heads still coming get kStopIdleMs (stop.h) to be whole.
      if (drain_heads_until < 0) drain_heads_until = posix::MonotonicMs() + kStopIdleMs;
      int64_t left = drain_heads_until - posix::MonotonicMs();
      if (left > 0) {
        WaitForEvent(nullptr, static_cast<int>(left));
        DrainWakePipe();
        continue;
      }
      g_heads.CloseAll();
    }
    if (ready < 0 && draining) {
      // The queues are empty: refuse new connections, then let the children finish.
      for (int fd : opt.listen_fds) posix::StopListening(fd);
      Shutdown(opt, events, true);
      break;
    }
    if (ready < 0) continue;  // woken by a signal: look at it first
    posix::SockAddr peer;
    int conn = posix::Accept(opt.listen_fds[static_cast<size_t>(ready)], &peer);
    if (conn < 0 && draining && conn != -EINTR && conn != -ECONNABORTED) {
      drain_at++;  // this queue is empty (EAGAIN) or cannot be read: the next
      continue;
    }
    if (conn < 0) {
      // EINTR: a handler ran (SIGCHLD): reap and accept again. EAGAIN: someone else took it.
      if (conn != -EINTR && conn != -EAGAIN && conn != -ECONNABORTED) {
        events->OnAcceptFailed(conn);
        if (conn == -EMFILE || conn == -ENFILE) WaitForEvent(nullptr, 100);  // let children exit and free some
      }
      continue;
    }
    if (trace) {
      Trace(events, TraceStage::kAccepted, 0, conn, peer);
      TracePause(opt.trace_pause_ms);
    }
    if (g_head_wait) {
      g_heads.Take(conn, peer, ready);  // forked for at the top of the loop once its head is whole
      continue;
    }
    if (ForkFor(opt, events, conn, peer, ready, nullptr, draining, &res)) return res;
  }
  // A stop gives the signals back. kUpgrade, kPause, kReload and kReopen keep this
  // loop's handlers while the caller works: a signal then (a SIGHUP right
  // after SIGWINCH) is counted for the next call, where the default action
  // would end the master.
  if (res.event == ForkLoopResult::kStopped) {
    RestoreSignals();
    g_heads.CloseAll();
  }
  CloseWakePipe();
  // The listeners stay non-blocking: O_NONBLOCK belongs to the open file
  // description, which a new master (SIGUSR2) or a worker shares with this
  // process; setting it back would make their accept(2) block.
  return res;
}

}  // namespace engine
