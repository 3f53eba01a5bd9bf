// Signal dispositions built on sigaction(2), in the self-pipe spirit: the C
// handler only counts the signal and wakes a waiter; the real work (a
// TypeScript handler, a waitpid loop) runs later on the main thread.
#pragma once
#include <poll.h>
#include <signal.h>

namespace posix {

// Called from the C signal handler after the count is recorded. Must be
// async-signal-safe (uv_async_send is; so is write(2) to a pipe).
using SignalNotify = void (*)(int signo);

// Installs the counting handler for signo with sigaction(2); SA_RESTART when
// restart is true, so interrupted slow calls resume instead of failing with
// EINTR. Deliveries counted before (and kept) are announced to the notify
// function at once, as a blocked signal is delivered when unblocked.
// Returns 0 or -errno (-EINVAL for a signal that cannot be caught).
int SignalInstall(int signo, bool restart);
// Restores SIG_DFL (or SIG_IGN when ignore) for signo and forgets its
// counted deliveries, unless keep_count. Returns 0 or -errno.
int SignalReset(int signo, bool ignore, bool keep_count = false);
// Sets the function the handler calls after counting (nullptr for none) and
// returns the previous one, for a loop that borrows delivery to give it back.
SignalNotify SignalSetNotify(SignalNotify notify);
// Returns how many times signo arrived since the last call, and clears it.
int SignalTake(int signo);
// Returns true if any counted signal is pending (cheap, no clearing).
bool SignalAnyPending();
// Waits until fd is ready to read (or to write, when writable) without the
// lost-wakeup race of handlers that run after the call: returns -EINTR when a
// signal with the counting handler installed has been counted and not yet
// taken, whether it came before the wait or during it, so that a blocking
// call made after the last SignalTake never sleeps through it. Returns 0 when
// fd is ready (or has an error or hang-up for the call itself to report), at
// once when fd is non-blocking or no counting handler is installed; or
// -errno from ppoll(2)/fcntl(2). On Linux the handled signals are blocked
// except inside ppoll(2), which unblocks them atomically with the wait. macOS
// has no ppoll: there a signal in the microseconds between the check and
// poll(2) is seen only when the wait ends.
int SignalAwaitFd(int fd, bool writable);
// poll(2) on fds for up to timeout_ms (-1: no limit) with the same
// guarantee: returns -EINTR when a counted signal is waiting to be taken
// (before the wait or during it), the number of ready descriptors, 0 on a
// timeout or when another handler (not the counting one) interrupted the
// wait, or -errno.
int SignalPoll(struct pollfd* fds, nfds_t nfds, int timeout_ms);
// In a fresh child: forget counts that belong to the parent and make the
// child's main thread the one handlers are delivered to.
void SignalsAfterForkInChild();
// Returns the signal's name ("SIGCHLD") or nullptr; and the number for a name or 0.
const char* SignalName(int signo);
int SignalNumber(const char* name);

}  // namespace posix
