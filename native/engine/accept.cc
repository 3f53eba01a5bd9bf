#include "engine/accept.h"

#include <errno.h>
#include <poll.h>

#include "engine/stop.h"
#include "posix/signals.h"

namespace engine {

int AcceptNext(const std::vector<int>& listen_fds, posix::SockAddr* peer, size_t* listener) {
  // poll(2) first: a stop request must not wait for the next client, and a
  // listener shared by several workers may be emptied by another one.
  if (listen_fds.empty() || listen_fds.size() > kMaxListeners) return -EINVAL;
  struct pollfd p[kMaxListeners];
  for (size_t i = 0; i < listen_fds.size(); i++) {
    posix::SetNonBlocking(listen_fds[i], true);
    p[i] = {listen_fds[i], POLLIN, 0};
  }
  static size_t next = 0;  // where the next look starts: no listener starves the others
  for (;;) {
    if (StopRequested()) return -ECANCELED;
    // A signal TypeScript handles (SIGUSR1, SIGUSR2) returns to run it; a
    // stop handler's ends the wait with 0: look at the stop flag.
    int n = posix::SignalPoll(p, static_cast<nfds_t>(listen_fds.size()), -1);
    if (n == -EINTR) return -EINTR;
    if (n <= 0) continue;
    for (size_t k = 0; k < listen_fds.size(); k++) {
      size_t i = (next + k) % listen_fds.size();
      if (!p[i].revents) continue;
      int c = posix::Accept(listen_fds[i], peer);
      if (c >= 0) {
        next = i + 1;
        if (listener) *listener = i;
        return c;
      }
      if (c != -EAGAIN && c != -EINTR && c != -ECONNABORTED) return c;
    }
  }
}

}  // namespace engine
