// Graceful stop for a process that serves connections (a fork child, a
// prefork worker), in gunicorn's meaning of SIGTERM: finish the request in
// progress, answer it, then close instead of waiting for another.
#pragma once
#include <sys/types.h>

namespace engine {

// During a graceful stop, a persistent connection idle between requests
// stays open this long for one more request (answered with Connection:
// close) before it is closed. Closing it at once loses a request the
// client sent in the same instant: the client sees a reset, not a response
// (RFC 9112 §9.3.1 lets it retry, and wrk does not). A client idle this long
// is one the keep-alive timeout would race with just as well.
constexpr int kStopIdleMs = 1000;

// Installs handlers (without SA_RESTART, so a blocked poll(2) returns
// EINTR) that record a request to stop: SIGTERM graceful, and when fast is
// true also SIGINT and SIGQUIT (for a process that is itself the server:
// the iterative engine). A fork child or worker leaves SIGINT to its parent.
void InstallGracefulStop(bool fast = false);
// True once a stop signal arrived.
bool StopRequested();
// The signal that asked to stop, or 0.
int StopSignal();
// Restores the default actions of the signals InstallGracefulStop took.
void RemoveGracefulStop();

// True while another master serves the same listening sockets (a binary
// upgrade): the new one this master started (successor), or the old one
// that started it (old_master, its parent until it exits). A SIGTERM then
// ends this master only: the sockets must go on listening, so it neither
// drains their queues nor stops them (posix::StopQueueing, StopListening).
bool SocketsShared(pid_t successor, pid_t old_master);

}  // namespace engine
