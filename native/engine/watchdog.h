// A per-request deadline for a forked child or worker. A child of a
// multi-threaded process can block forever on a lock held by a thread that
// did not survive fork() (docs/fork-in-node.md). SIGALRM's handler is
// async-signal-safe: if no response byte was written yet it writes a
// complete 503, then it ends the process with _exit(kWatchdogExit), so a
// client is never left waiting and the parent reaps a known status.
#pragma once

namespace engine {

constexpr int kWatchdogExit = 124;  // the status timeout(1) uses

// Arms alarm(2) for seconds (0 disarms) on connection fd.
void WatchdogArm(int fd, unsigned seconds);
// The response began: the watchdog will close, not answer 503.
void WatchdogResponseStarted();
// A long response made progress (a file transfer): the deadline starts
// again, so --timeout bounds silence, not the length of a download.
void WatchdogProgress();
// Disarms the alarm.
void WatchdogDisarm();

}  // namespace engine
