// The prefork master, in gunicorn's arbiter's terms: it forks N workers that
// accept on the shared listening socket, reaps them with waitpid(-1,
// WNOHANG), replaces the dead, kills the silent (heartbeat older than the
// timeout) with SIGKILL, and answers signals:
//   SIGTERM graceful stop (with no new master running, the kernel queues
//   no more connections, the workers take those queued, and new ones are
//   then refused: posix::StopQueueing, StopListening); SIGINT/SIGQUIT fast stop; SIGHUP reload (the
//   caller reloads the app, new workers start, old ones stop gracefully);
//   SIGTTIN/SIGTTOU one worker more/fewer; SIGUSR2 returns kUpgrade (the
//   caller starts a new master and calls again); SIGWINCH stops every
//   worker gracefully and starts none, the listening socket staying open
//   (after an upgrade, as gunicorn's), until SIGHUP starts them again;
//   a worker whose RSS passes max_worker_rss is stopped gracefully and
//   replaced (uWSGI's reload-on-rss);
//   SIGUSR1 is passed to every worker and returns kReopen (the caller opens
//   its log files again and calls again).
// options->workers is the number wanted: SIGTTIN/SIGTTOU/SIGWINCH change it,
// so a caller that calls again passes it back as it was left.
// It returns in a new worker (to serve) and in the master for a stop or a
// reload. Knows nothing of Node-API.
#pragma once
#include <sys/types.h>

#include <vector>

#include "engine/heartbeat.h"
#include "posix/sys.h"

namespace engine {

struct PreforkOptions {
  std::vector<int> listen_fds;      // the workers' listening sockets (a stop drains their queues first)
  int workers = 2;
  int timeout_ms = 30000;           // silence after which a worker is killed
  int graceful_timeout_ms = 30000;  // SIGTERM: time workers get to finish
  pid_t successor = 0;              // a new master this one started (SIGUSR2): its exit is reported
  pid_t old_master = 0;             // the master that started this one (FORKSERVE_OLD_MASTER), 0 if none
  int64_t max_worker_rss = 0;       // bytes: a worker past it is replaced gracefully (checked each second); 0: no bound
  // SIGWINCH is ignored unless set: a terminal sends it to its foreground group on every
  // resize (gunicorn honours it only when daemonized).
  bool pause_on_winch = false;
};

class PreforkEvents {
 public:
  virtual ~PreforkEvents() = default;
  virtual void OnSpawned(pid_t pid, int slot) = 0;
  virtual void OnReaped(const posix::WaitStatus& status, bool expected) = 0;
  virtual void OnTimeout(pid_t pid) = 0;
  virtual void OnForkFailed(int neg_errno) = 0;
  virtual void OnWorkerCount(int count) = 0;
  // pid's resident set (rss bytes) passed options.max_worker_rss: it was sent SIGTERM and is replaced.
  virtual void OnRecycled(pid_t pid, int64_t rss) = 0;
  // The new master (options.successor) exited: this one is the server again.
  virtual void OnSuccessorExited(const posix::WaitStatus& status) = 0;
};

struct PreforkResult {
  enum Kind { kWorker, kStopped, kReload, kUpgrade, kReopen, kError } kind = kStopped;
  int slot = -1;           // kWorker: this worker's slot
  WorkerSlot* slot_ptr = nullptr;
  int stop_signal = 0;     // kStopped
  int error = 0;           // kError: -errno
};

// Runs (or, after kReload, resumes) the master. The slots live across
// calls; on kReload the caller loads the app again and calls back: the
// master then replaces every worker by a new one, gracefully.
PreforkResult RunPrefork(PreforkOptions* options, PreforkEvents* events);

}  // namespace engine
