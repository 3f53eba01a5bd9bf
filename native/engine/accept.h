// The accept step of the iterative server and of prefork workers: wait for
// a connection and take it, unless the process was asked to stop.
#pragma once
#include <stddef.h>

#include <vector>

#include "posix/sys.h"

namespace engine {

// Blocks until a connection is accepted (returns its descriptor, blocking,
// close-on-exec, and fills *peer) or the process must stop (returns
// -ECANCELED: SIGTERM, SIGINT or SIGQUIT arrived, see stop.h). EINTR and
// EAGAIN (another process took the connection) are retried; other errors are
// returned as -errno.
// With several listeners, the first ready one (taking turns) is accepted
// from; -EINVAL for none or more than kMaxAcceptListeners.
constexpr size_t kMaxAcceptListeners = 64;
int AcceptNext(const std::vector<int>& listen_fds, posix::SockAddr* peer);

}  // namespace engine
