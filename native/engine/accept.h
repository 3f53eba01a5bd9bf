// The accept step of the iterative server and of prefork workers: wait for
// a connection and take it, unless the process was asked to stop.
#pragma once
#include "posix/sys.h"

namespace engine {

// Blocks until a connection is accepted (returns its descriptor, blocking,
// close-on-exec, and fills *peer) or the process must stop (returns
// -ECANCELED: SIGTERM, SIGINT or SIGQUIT arrived, see stop.h). EINTR and
// EAGAIN (another process took the connection) are retried; other errors are
// returned as -errno.
int AcceptNext(int listen_fd, posix::SockAddr* peer);

}  // namespace engine
