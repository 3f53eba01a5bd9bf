// Parking Node's platform worker threads around fork(2).
#pragma once

namespace nodefork {

// Registers prepare/parent/child hooks with posix::Fork() (posix/sys.h) that
// park every thread of Node's platform pool (the threads V8 posts background
// tasks to) in a task of ours for the duration of fork(). Must be called on
// the main thread during a JS call (it reads the current Isolate's
// Environment). Returns false if the platform cannot be found (then Fork()
// works as before, unparked). See docs/fork-in-node.md, "The platform's
// worker threads".
bool InstallPlatformParking();

// Counters for tests and `forkserve ps`-style diagnostics.
struct ParkStats {
  int workers;                   // platform threads parked per fork; -1 before the first fork
  unsigned long forks_parked;    // forks done with every worker parked
  unsigned long forks_unparked;  // forks done after the wait timed out
  bool in_forked_child;          // this process is a child: its platform threads are gone
};
ParkStats GetParkStats();

}  // namespace nodefork
