// The macOS (and BSD) backend of engine::Poller: kqueue(2). One kevent per
// filter: a descriptor ready both ways comes back as two events.
#ifdef __APPLE__
#include <sys/types.h>  // before sys/event.h, as kqueue(2) shows
#include <errno.h>
#include <fcntl.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/poller.h"

namespace engine {

int Poller::Open() {
  fd_ = kqueue();
  if (fd_ < 0) return -errno;
  fcntl(fd_, F_SETFD, FD_CLOEXEC);  // kqueues are not inherited by fork anyway; exec is the case
  return 0;
}

static int Change(int kq, struct kevent* changes, int n) {
  return kevent(kq, changes, n, nullptr, 0, nullptr) < 0 ? -errno : 0;
}

int Poller::AddEdge(int fd, void* data) {
  // EV_CLEAR is kqueue's edge trigger: the state resets once reported.
  struct kevent ch[2];
  EV_SET(&ch[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, data);
  EV_SET(&ch[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, data);
  return Change(fd_, ch, 2);
}

int Poller::AddLevelRead(int fd, void* data) {
  struct kevent ch;
  EV_SET(&ch, fd, EVFILT_READ, EV_ADD, 0, 0, data);
  return Change(fd_, &ch, 1);
}

int Poller::Remove(int fd) {
  // Each filter separately: a listening socket has no write filter (ENOENT).
  struct kevent ch;
  EV_SET(&ch, fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  int r = Change(fd_, &ch, 1);
  EV_SET(&ch, fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
  Change(fd_, &ch, 1);
  return r;
}

int Poller::Wait(PollerEvent* out, int max, int timeout_ms) {
  struct kevent evs[256];
  if (max > 256) max = 256;
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  int n = kevent(fd_, nullptr, 0, evs, max, timeout_ms < 0 ? nullptr : &ts);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    out[i].data = evs[i].udata;
    bool error = (evs[i].flags & EV_ERROR) != 0;
    // EV_EOF arrives on the read filter: reading will return 0 or the error.
    out[i].readable = error || evs[i].filter == EVFILT_READ;
    out[i].writable = error || evs[i].filter == EVFILT_WRITE;
    out[i].hangup = evs[i].filter == EVFILT_READ && (evs[i].flags & EV_EOF) != 0;
  }
  return n;
}

void Poller::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace engine
#endif  // __APPLE__
