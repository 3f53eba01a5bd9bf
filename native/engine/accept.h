// The accept step of the iterative server and of prefork workers: wait for
// a connection and take it, unless the process was asked to stop.
#pragma once
#include <stddef.h>

#include <vector>

#include "engine/listeners.h"
#include "posix/sys.h"

namespace engine {

// Blocks until a connection is accepted (returns its descriptor, blocking,
// close-on-exec, and fills *peer) or the process must stop (returns
// -ECANCELED: SIGTERM, SIGINT or SIGQUIT arrived, see stop.h), or a signal
// with posix's counting handler is waiting to be taken (returns -EINTR: the
// caller runs its handler and calls again). EAGAIN (another process took the
// connection) is retried; other errors are returned as -errno.
// With several listeners, the first ready one (taking turns) is accepted
// from; -EINVAL for none or more than kMaxListeners.
// *listener (when given) is the index in listen_fds of the one accepted from.
int AcceptNext(const std::vector<int>& listen_fds, posix::SockAddr* peer, size_t* listener = nullptr);

}  // namespace engine
