// Graceful stop for a process that serves connections (a fork child, a
// prefork worker), in gunicorn's meaning of SIGTERM: finish the request in
// progress, answer it, then close instead of waiting for another.
#pragma once

namespace engine {

// Installs a SIGTERM handler (without SA_RESTART, so a blocked poll(2)
// returns EINTR) that records the request to stop.
void InstallGracefulStop();
// True once SIGTERM arrived.
bool StopRequested();

}  // namespace engine
