#include "engine/prefork.h"

#include "engine/counters.h"
#include "engine/reap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/stop.h"
#include "posix/signals.h"

namespace engine {

namespace {

constexpr int kMaxWorkers = 256;

int g_wake[2] = {-1, -1};
WorkerSlot* g_slots = nullptr;
int g_generation = 0;             // bumped by each reload
int g_slot_generation[kMaxWorkers];
bool g_reloading = false;
bool g_stopping = false;         // every exit is expected during a stop
int g_paused_workers = 0;        // SIGWINCH: the count to start again on SIGHUP
pid_t g_successor = 0;           // the new master of a binary upgrade

const int kSignals[] = {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH};

void Wake(int) {
  int saved = errno;
  char b = 1;
  if (g_wake[1] >= 0 && write(g_wake[1], &b, 1) < 0) {
  }
  errno = saved;
}

void Drain() {
  char buf[64];
  while (read(g_wake[0], buf, sizeof buf) > 0) {
  }
}

int Alive() {
  int n = 0;
  for (int i = 0; i < kMaxWorkers; i++)
    if (g_slots[i].pid > 0) n++;
  return n;
}

int FindSlot(pid_t pid) {
  for (int i = 0; i < kMaxWorkers; i++)
    if (g_slots[i].pid == pid) return i;
  return -1;
}

void SignalAll(int sig, bool old_generation_only) {
  for (int i = 0; i < kMaxWorkers; i++)
    if (g_slots[i].pid > 0 && (!old_generation_only || g_slot_generation[i] != g_generation))
      kill(g_slots[i].pid, sig);
}

// Reaps every exited worker (the waitpid(-1, WNOHANG) loop) and frees its slot.
void Reap(PreforkEvents* ev, int* wanted_gone) {
  ReapExited(
      &g_successor,
      [&](const posix::WaitStatus& st) {
        int slot = FindSlot(st.pid);
        bool expected = g_stopping || (slot >= 0 && g_slot_generation[slot] != g_generation);
        if (slot >= 0) g_slots[slot].pid = 0;
        if (*wanted_gone > 0 && !expected) {
          (*wanted_gone)--;
          expected = true;
        }
        ev->OnReaped(st, expected);
      },
      [&](const posix::WaitStatus& st) { ev->OnSuccessorExited(st); });
}

posix::SignalNotify g_previous_notify = nullptr;  // TypeScript's delivery, given back on return

// --max-worker-rss, once a second: a worker of this generation past the
// bound finishes its requests (SIGTERM) and leaves its place to a new one.
void RecycleLarge(const PreforkOptions& opt, PreforkEvents* ev) {
  static int64_t last_check_ms = 0;
  if (opt.max_worker_rss <= 0) return;
  int64_t now = posix::MonotonicMs();
  if (now - last_check_ms < 1000) return;
  last_check_ms = now;
  for (int i = 0; i < kMaxWorkers; i++) {
    if (g_slots[i].pid <= 0 || g_slot_generation[i] != g_generation) continue;
    int64_t rss = posix::ResidentBytes(g_slots[i].pid);
    if (rss <= opt.max_worker_rss) continue;
    kill(g_slots[i].pid, SIGTERM);
    g_slot_generation[i] = -1;  // no longer counted (a new one is forked); its exit is expected
    ev->OnRecycled(g_slots[i].pid, rss);
  }
}

void Install() {
  // Called again after a kUpgrade/kReload return, when the handlers (and Wake) are still ours.
  posix::SignalNotify previous = posix::SignalSetNotify(Wake);
  if (previous != Wake) g_previous_notify = previous;
  for (int sig : kSignals) posix::SignalInstall(sig, false);
}

// keep_term: a new worker keeps SIGTERM's counting handler, and a SIGTERM
// that came already (a stop, SIGTTOU, a reload), until its own handler
// exists; installing that one delivers it. SIGTERM's default action would
// end a worker still starting, and with it connections the master counts
// on it to take from the accept queue during a stop.
void Restore(bool keep_term = false) {
  for (int sig : kSignals)
    if (!(keep_term && sig == SIGTERM)) posix::SignalReset(sig, false);
  posix::SignalSetNotify(g_previous_notify);
}

// True when no listener has a connection waiting in its accept queue (or
// none can tell: AF_UNIX, macOS).
bool QueuesEmpty(const std::vector<int>& fds) {
  for (int fd : fds)
    if (posix::AcceptQueueLength(fd) > 0) return false;
  return true;
}

void Shutdown(const PreforkOptions& opt, PreforkEvents* ev, bool graceful) {
  int none = 0;
  g_stopping = true;
  // The server's own stop (no new master serves these sockets): the kernel
  // queues nothing more, each worker's graceful stop accepts what is queued
  // (PollLoop::Stop), and once the queues are empty new clients are refused.
  bool refusing = graceful && !SocketsShared(g_successor, opt.old_master);
  if (refusing)
    for (int fd : opt.listen_fds) posix::StopQueueing(fd);
  SignalAll(graceful ? SIGTERM : SIGKILL, false);
  int64_t deadline = posix::MonotonicMs() + (graceful ? opt.graceful_timeout_ms : 2000);
  while (Alive() > 0) {
    Reap(ev, &none);
    if (refusing && (QueuesEmpty(opt.listen_fds) || Alive() == 0)) {
      for (int fd : opt.listen_fds) posix::StopListening(fd);
      refusing = false;
    }
    if (Alive() == 0) break;
    if (posix::MonotonicMs() > deadline) {
      SignalAll(SIGKILL, false);
      deadline = posix::MonotonicMs() + 5000;
    }
    struct pollfd p = {g_wake[0], POLLIN, 0};
    poll(&p, 1, refusing ? 5 : 100);
    Drain();
  }
  if (refusing)
    for (int fd : opt.listen_fds) posix::StopListening(fd);
}

}  // namespace

PreforkResult RunPrefork(PreforkOptions* opt, PreforkEvents* ev) {
  PreforkResult res;
  if (!g_slots) {
    g_slots = MapSlots(kMaxWorkers);
    if (!g_slots || pipe(g_wake) < 0) {
      res.kind = PreforkResult::kError;
      res.error = -errno;
      return res;
    }
    for (int fd : g_wake) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      fcntl(fd, F_SETFL, O_NONBLOCK);
    }
  } else if (g_reloading) {
    // Back from a reload: new workers of the new generation replace the old,
    // which finish their requests (SIGTERM) once the new ones are forked.
    g_generation++;
    g_reloading = false;
  }
  Install();
  g_successor = opt->successor;
  int wanted_gone = 0;  // SIGTTOU: workers we stopped on purpose
  bool retire_old = true;
  bool pending_stop = false;  // a SIGTERM that came before any worker existed, held until they do
  for (;;) {
    Reap(ev, &wanted_gone);
    if (posix::SignalTake(SIGTTIN) && opt->workers < kMaxWorkers) {
      opt->workers++;
      ev->OnWorkerCount(opt->workers);
    }
    if (posix::SignalTake(SIGTTOU) && opt->workers > 1) {
      opt->workers--;
      ev->OnWorkerCount(opt->workers);
    }
    int stop = posix::SignalTake(SIGINT) ? SIGINT
               : posix::SignalTake(SIGQUIT) ? SIGQUIT
               : posix::SignalTake(SIGTERM) || pending_stop ? SIGTERM : 0;
    // A graceful stop before any worker runs (SIGTERM right as the server
    // starts), with connections queued: nobody would accept them, and the
    // stop would reset them. The workers start first; the stop then reaches
    // them (each keeps it counted until its own handler exists) and they
    // serve the queue (PollLoop::Stop).
    pending_stop = false;
    if (stop == SIGTERM && Alive() == 0 && opt->workers > 0 && !QueuesEmpty(opt->listen_fds) && !SocketsShared(g_successor, opt->old_master)) {
      pending_stop = true;
      stop = 0;
    }
    if (stop) {
      Shutdown(*opt, ev, stop == SIGTERM);
      g_stopping = false;
      Restore();
      res.kind = PreforkResult::kStopped;
      res.stop_signal = stop;
      return res;
    }
    // kUpgrade, kReopen and kReload keep this loop's handlers installed while the
    // caller works: a signal then (a SIGHUP right after SIGWINCH) is counted
    // for the next call, where the default action would end the master.
    if (posix::SignalTake(SIGUSR2)) {
      res.kind = PreforkResult::kUpgrade;
      return res;
    }
    if (posix::SignalTake(SIGUSR1)) {
      SignalAll(SIGUSR1, false);  // each worker reopens its own descriptors
      res.kind = PreforkResult::kReopen;
      return res;
    }
    if (posix::SignalTake(SIGWINCH) && opt->pause_on_winch && opt->workers > 0) {
      g_paused_workers = opt->workers;
      opt->workers = 0;  // the loop below stops them all, gracefully
      ev->OnWorkerCount(0);
    }
    if (posix::SignalTake(SIGHUP)) {
      if (opt->workers == 0 && g_paused_workers > 0) {
        opt->workers = g_paused_workers;
        g_paused_workers = 0;
      }
      g_reloading = true;
      res.kind = PreforkResult::kReload;
      return res;
    }
    RecycleLarge(*opt, ev);
    // Workers of this generation, and the extra ones SIGTTOU asks to stop.
    int current = 0;
    for (int i = 0; i < kMaxWorkers; i++)
      if (g_slots[i].pid > 0 && g_slot_generation[i] == g_generation) current++;
    while (current > opt->workers) {
      for (int i = kMaxWorkers - 1; i >= 0; i--)
        if (g_slots[i].pid > 0 && g_slot_generation[i] == g_generation) {
          kill(g_slots[i].pid, SIGTERM);
          g_slot_generation[i] = -1;  // no longer counted; its exit is expected
          break;
        }
      current--;
    }
    while (current < opt->workers) {
      int slot = FindSlot(0);
      if (slot < 0) break;
      g_slots[slot].heartbeat_ms = posix::MonotonicMs();
      g_slots[slot].requests = 0;
      pid_t pid = posix::Fork();
      if (pid == 0) {
        Restore(/*keep_term=*/true);
        // SIGUSR1 is ignored until the worker's own handler exists: its
        // default action would end the worker.
        posix::SignalReset(SIGUSR1, /*ignore=*/true);
        close(g_wake[0]);
        close(g_wake[1]);
        counters::CloseInChild();
        g_slots[slot].pid = getpid();
        res.kind = PreforkResult::kWorker;
        res.slot = slot;
        res.slot_ptr = &g_slots[slot];
        return res;
      }
      if (pid < 0) {
        ev->OnForkFailed(pid);
        break;  // try again after the next wake-up
      }
      g_slots[slot].pid = pid;
      g_slot_generation[slot] = g_generation;
      ev->OnSpawned(pid, slot);
      current++;
    }
    if (retire_old) {
      SignalAll(SIGTERM, true);  // after a reload: old generation finishes and exits
      retire_old = false;
    }
    // Silent workers: their JS is stuck (or deadlocked after fork).
    int64_t now = posix::MonotonicMs();
    for (int i = 0; i < kMaxWorkers; i++) {
      if (g_slots[i].pid > 0 && now - g_slots[i].heartbeat_ms > opt->timeout_ms) {
        ev->OnTimeout(g_slots[i].pid);
        kill(g_slots[i].pid, SIGKILL);
        g_slots[i].heartbeat_ms = now;  // one kill per timeout; the reap frees the slot
      }
    }
    struct pollfd p = {g_wake[0], POLLIN, 0};
    poll(&p, 1, pending_stop ? 0 : 1000);
    Drain();
  }
}

}  // namespace engine
