// Readiness notification for many descriptors: epoll(7) on Linux
// (poller_epoll.cc), kqueue(2) on macOS (poller_kqueue.cc). Knows nothing
// of HTTP or Node-API.
//
// Connections are watched edge-triggered (EPOLLET, EV_CLEAR) for input and
// output at once, registered once and never modified: an event means "this
// changed", so the owner reads until a short read or EAGAIN and writes until
// EAGAIN, and remembers readiness it chose not to use yet. That costs no
// epoll_ctl/kevent call per request. The listening socket is level-triggered
// so the owner may accept a bounded batch per wake-up.
#pragma once

namespace engine {

struct PollerEvent {
  void* data = nullptr;    // what the descriptor was registered with
  bool readable = false;   // input, end of stream or an error: read() will not block
  bool writable = false;   // output space or an error: write() will not block
  bool hangup = false;     // the peer shut down its side: input ends after what is queued
};

class Poller {
 public:
  Poller() = default;
  ~Poller() { Close(); }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Creates the kernel object (close-on-exec); returns 0 or -errno.
  int Open();
  // Returns the descriptor that polls readable while events are pending
  // (an outer loop such as libuv's watches it), or -1 before Open.
  int fd() const { return fd_; }
  // Watches fd for input and output, edge-triggered; returns 0 or -errno.
  int AddEdge(int fd, void* data);
  // Watches fd for input only, level-triggered; returns 0 or -errno.
  int AddLevelRead(int fd, void* data);
  // Stops watching fd; returns 0 or -errno. Call it before close(2): a
  // duplicate of the descriptor held elsewhere (a child between fork and
  // exec) would otherwise keep it registered with a stale data pointer.
  int Remove(int fd);
  // Waits up to timeout_ms (0: just look) and fills out[0..max); returns
  // the number of events, 0 on EINTR, or -errno.
  int Wait(PollerEvent* out, int max, int timeout_ms);
  // Closes the kernel object.
  void Close();

 private:
  int fd_ = -1;
};

}  // namespace engine
