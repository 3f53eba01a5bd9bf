// The fork engine's parent: accept, fork, close the connection, reap.
// It runs entirely in native code; it returns in the child (with the
// connection to serve) and in the parent only when told to stop.
#pragma once
#include <sys/types.h>

#include <vector>

#include "engine/conn.h"
#include "engine/listeners.h"
#include "posix/sys.h"

namespace engine {


struct ForkLoopOptions {
  std::vector<int> listen_fds;     // every listening socket served (accepted from as each is ready)
  int max_children = 0;            // 0: no bound; else wait for an exit before accepting
  int graceful_timeout_ms = 30000; // SIGTERM: how long in-flight children may run
  pid_t successor = 0;             // a new master this one started (SIGUSR2): its exit is always reported
  pid_t old_master = 0;            // the master that started this one (FORKSERVE_OLD_MASTER), 0 if none
  // SIGWINCH is ignored unless set: a terminal sends it to its foreground group on every
  // resize (gunicorn honours it only when daemonized).
  bool pause_on_winch = false;
  // --trace-forks: > 0 makes each stage of a connection's life last this
  // long, so an observer (forkserve watch, the status page) sees every one
  // of them, and reports each stage (ForkLoopEvents::OnTrace). A lesson
  // mode: it serves about one connection per 3 pauses.
  int trace_pause_ms = 0;
  // --fork-after head: a connection gets its child only once its whole
  // request head has come (engine/head_wait.h), read with limits (the
  // parser's, --headers-timeout, the PROXY protocol); meanwhile it costs a
  // descriptor. At the max_children bound, up to max_waiting connections
  // are still taken. false: fork at accept(2), the course's server.
  bool fork_after_head = false;
  Limits limits;
  size_t max_waiting = 16384;
};

// The stages of one connection in the fork engine, as --trace-forks reports them.
enum class TraceStage {
  kAccepted,      // accept(2) returned fd: only the parent holds the connected socket
  kForked,        // fork(2): parent and child hold one open file description (2 references)
  kParentClosed,  // the parent closed its copy: only the child holds it (1 reference)
  kChildExited,   // the child exited: the socket is closed; the child is a zombie until reaped
};

struct TraceEvent {
  TraceStage stage = TraceStage::kAccepted;
  pid_t child = 0;            // kForked and later
  int fd = -1;                // the parent's descriptor of the connection (kAccepted .. kParentClosed)
  posix::SockAddr peer;       // kAccepted .. kParentClosed
  posix::WaitStatus status;   // kChildExited: how it ended (waitid WNOWAIT: not reaped yet)
};

// What the parent reports while it runs (called on the calling thread).
class ForkLoopEvents {
 public:
  virtual ~ForkLoopEvents() = default;
  virtual void OnReaped(const posix::WaitStatus& status) = 0;
  virtual void OnForkFailed(int neg_errno) = 0;
  virtual void OnAcceptFailed(int neg_errno) = 0;
  // The new master (options.successor) exited: this one is the server again.
  virtual void OnSuccessorExited(const posix::WaitStatus& status) = 0;
  // A stage of a connection, when options.trace_pause_ms > 0.
  virtual void OnTrace(const TraceEvent& event) { (void)event; }
};

struct ForkLoopResult {
  bool child = false;       // true: this is the child; serve conn_fd then _exit
  int conn_fd = -1;
  posix::SockAddr peer;
  int listener = -1;        // child: the index in listen_fds of the socket conn_fd came from
  // parent: why the loop returned. kStopped: SIGTERM/SIGINT/SIGQUIT (stop_signal).
  // kUpgrade: SIGUSR2, start a new master and call again. kReload: SIGHUP,
  // load the app again and call again (accepting again if SIGWINCH paused it).
  // kPause: SIGWINCH stopped accepting; call again. kReopen: SIGUSR1, open
  // the log files again and call again.
  enum Event { kStopped, kUpgrade, kReload, kPause, kReopen } event = kStopped;
  int stop_signal = 0;      // parent: the signal that stopped it
  int drained = 0;          // parent, SIGTERM: connections taken from the accept queues after it
  int error = 0;            // parent: -errno if the loop could not run
};

// Runs the loop. SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2
// and SIGWINCH are handled by it (installed without SA_RESTART and restored on
// return); a self-pipe wakes poll(2) so no zombie waits for the next
// connection. SIGTERM stops gracefully: the connections already queued on
// the listeners are accepted and served (the kernel queues none meanwhile),
// then new ones are refused (posix::StopQueueing, StopListening; not while
// options.successor runs: it serves them), and children get SIGTERM, finish
// the request in progress and close (up to graceful_timeout_ms, then
// SIGKILL).
// SIGINT/SIGQUIT stop at once: children get SIGKILL. SIGWINCH (after a
// binary upgrade, as nginx's and gunicorn's) stops accepting, keeping the
// listening sockets open, and stops the children gracefully; SIGHUP
// returns kReload and accepting resumes at the next call.
ForkLoopResult RunForkLoop(const ForkLoopOptions& options, ForkLoopEvents* events);

// Reaps every exited child without blocking (the waitpid(-1, WNOHANG) loop);
// returns how many were reaped.
int ReapChildren(ForkLoopEvents* events);

}  // namespace engine
