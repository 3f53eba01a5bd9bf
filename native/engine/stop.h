// Graceful stop for a process that serves connections (a fork child, a
// prefork worker), in gunicorn's meaning of SIGTERM: finish the request in
// progress, answer it, then close instead of waiting for another.
#pragma once

namespace engine {

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

}  // namespace engine
