#include "engine/accept.h"

#include <errno.h>
#include <poll.h>

#include "engine/stop.h"

namespace engine {

int AcceptNext(int listen_fd, posix::SockAddr* peer) {
  // poll(2) first: a stop request must not wait for the next client, and a
  // listener shared by several workers may be emptied by another one.
  posix::SetNonBlocking(listen_fd, true);
  for (;;) {
    if (StopRequested()) return -ECANCELED;
    struct pollfd p = {listen_fd, POLLIN, 0};
    if (poll(&p, 1, -1) <= 0) continue;  // EINTR: a signal; look at the stop flag
    int c = posix::Accept(listen_fd, peer);
    if (c >= 0) return c;
    if (c == -EAGAIN || c == -EINTR || c == -ECONNABORTED) continue;
    return c;
  }
}

}  // namespace engine
