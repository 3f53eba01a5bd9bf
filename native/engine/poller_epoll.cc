// The Linux backend of engine::Poller: epoll(7).
#ifdef __linux__
#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "engine/poller.h"

namespace engine {

int Poller::Open() {
  fd_ = epoll_create1(EPOLL_CLOEXEC);
  return fd_ < 0 ? -errno : 0;
}

static int Ctl(int epfd, int op, int fd, uint32_t events, void* data) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.ptr = data;
  return epoll_ctl(epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int Poller::AddEdge(int fd, void* data) {
  // EPOLLRDHUP: a peer's FIN wakes us even when we are not reading yet.
  return Ctl(fd_, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, data);
}

int Poller::AddLevelRead(int fd, void* data) { return Ctl(fd_, EPOLL_CTL_ADD, fd, EPOLLIN, data); }

int Poller::Remove(int fd) { return Ctl(fd_, EPOLL_CTL_DEL, fd, 0, nullptr); }

int Poller::Wait(PollerEvent* out, int max, int timeout_ms) {
  struct epoll_event evs[256];
  if (max > 256) max = 256;
  int n = epoll_wait(fd_, evs, max, timeout_ms);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  for (int i = 0; i < n; i++) {
    uint32_t e = evs[i].events;
    out[i].data = evs[i].data.ptr;
    // Errors and hang-ups are reported as both: the next read/write says which.
    out[i].readable = (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    out[i].writable = (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
    out[i].hangup = (e & (EPOLLRDHUP | EPOLLHUP)) != 0;
  }
  return n;
}

void Poller::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

}  // namespace engine
#endif  // __linux__
