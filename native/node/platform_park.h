// Parking Node's platform worker threads around fork(2).
#pragma once

namespace nodefork {

// Finds Node's platform, the pool V8 posts background tasks to, so that
// ParkBeforeFork() can park every one of its threads in a task of ours for
// the duration of fork(). Must be called on the main thread during a JS call
// (it reads the current Isolate's Environment). Returns false if the
// platform cannot be found (then forks happen unparked). See
// docs/fork-in-node.md §2; fork_hooks.h calls the three below.
bool FindPlatform();
// Before fork(2): parks the threads (returns once all reported, or after 1 s).
void ParkBeforeFork();
// After fork(2) in the parent: lets them go (unless held, below).
void ReleaseAfterFork();
// After fork(2) in the child: the threads do not exist here; forget them.
void ForgetPlatformInChild();

// Parks the platform threads now and keeps them parked, through any number
// of Fork() calls, until ReleaseParked(): for a parent that forks in a
// native loop and runs no event loop in between (the fork engine's). JS may
// run meanwhile (a V8 job is joined by the thread that posts it; a task
// posted meanwhile runs once released), but Node must not drain the
// platform's queue (its event loop): it would wait for the parked tasks.
void HoldParked();
void ReleaseParked();

// Counters, for forkParking() in forkserve/posix.
struct ParkStats {
  int workers;                   // platform threads parked per fork; -1 before the first fork
  unsigned long forks_parked;    // forks done with every worker parked
  unsigned long forks_unparked;  // forks done after the wait timed out
  bool in_forked_child;          // this process is a child: its platform threads are gone
};
ParkStats GetParkStats();

}  // namespace nodefork
