#include "engine/head_wait.h"

#include <errno.h>

#include "engine/counters.h"

namespace engine {

static int g_inherited_fd = -1;
static std::string g_inherited;

bool TakeInheritedInput(int fd, std::string* out) {
  if (fd < 0 || fd != g_inherited_fd) return false;
  out->swap(g_inherited);
  std::string().swap(g_inherited);
  g_inherited_fd = -1;
  return true;
}

bool TakeInheritedInput(int fd, http::ConnCore* core) {
  std::string bytes;
  return TakeInheritedInput(fd, &bytes) && core->Feed(bytes.data(), bytes.size());
}

HeadWait::~HeadWait() { CloseAll(); }

int HeadWait::Open(const Limits& limits) {
  limits_ = limits;
  heads_.timeout_ms = limits.header_timeout_ms;
  return poller_.fd() >= 0 ? 0 : poller_.Open();
}

void HeadWait::Take(int fd, const posix::SockAddr& peer, int listener) {
  WaitingConn* c = new WaitingConn;
  c->fd = fd;
  c->peer = peer;
  c->listener = listener;
  c->core.proxy_pending = limits_.proxy_protocol;
  posix::SetNonBlocking(fd, true);
  conns_[fd] = c;
  heads_.Push(c, posix::MonotonicMs());  // the whole head must come within --headers-timeout of the accept
  Read(c);
  // Still waiting: watched from now on (edge-triggered; Read drained the socket).
  if (conns_.count(fd) && c->list == &heads_ && poller_.AddEdge(fd, c) < 0) Close(c);
}

void HeadWait::Read(WaitingConn* c) {
  for (;;) {
    size_t space = 0;
    char* into = c->core.ReadInto(&space);
    if (!into) return Close(c);
    ssize_t n = posix::Read(c->fd, into, space);
    if (n == -EINTR) continue;
    if (n == -EAGAIN || n == -EWOULDBLOCK) break;
    if (n <= 0) return Close(c);  // closed (or reset) before its head was whole: no one to answer
    c->core.Received(static_cast<size_t>(n));
    if (static_cast<size_t>(n) < space) break;  // a short read emptied the socket
  }
  int status = 0;
  switch (c->core.PeekHead(limits_, &status)) {
    case http::Step::kRequest:
      DeadlineList::Unlink(c);
      ready_.push_back(c);
      return;
    case http::Step::kReject:
      return Answer(c, status);
    case http::Step::kDrop:
      return Close(c);  // not a PROXY header: closed without an answer
    default:
      return;  // more to come
  }
}

void HeadWait::Run() {
  PollerEvent ev[64];
  for (;;) {
    int n = poller_.Wait(ev, 64, 0);
    for (int i = 0; i < n; i++) {
      WaitingConn* c = static_cast<WaitingConn*>(ev[i].data);
      if (c->list == &heads_) Read(c);  // ready ones wait for their fork; their input stays in the kernel
    }
    if (n < 64) break;
  }
  int64_t now = posix::MonotonicMs();
  while (heads_.head && heads_.head->deadline <= now) {
    WaitingConn* c = static_cast<WaitingConn*>(heads_.head);
    if (c->core.proxy_pending) Close(c);  // a PROXY header too slow: no HTTP answer to a load balancer
    else if (c->core.in_end == 0) Close(c);  // nothing at all came: closed, as an idle connection
    else Answer(c, 408);
  }
}

int HeadWait::NextTimeoutMs() const {
  if (!heads_.head) return -1;
  int64_t left = heads_.head->deadline - posix::MonotonicMs();
  return left > 0 ? static_cast<int>(left) : 0;
}

WaitingConn* HeadWait::PopReady() {
  if (ready_.empty()) return nullptr;
  WaitingConn* c = ready_.front();
  ready_.pop_front();
  return c;
}

void HeadWait::Answer(WaitingConn* c, int status) {
  c->core.QueueError(status);
  posix::SetNonBlocking(c->fd, false);  // a few hundred bytes: let them go out
  posix::WriteAll(c->fd, c->core.pending_data(), c->core.pending());
  counters::Response(status);
  Close(c);
}

void HeadWait::Close(WaitingConn* c) {
  DeadlineList::Unlink(c);
  poller_.Remove(c->fd);
  posix::Close(c->fd);
  conns_.erase(c->fd);
  delete c;
}

void HeadWait::Adopt(WaitingConn* conn) {
  g_inherited_fd = conn->fd;
  g_inherited.assign(conn->core.in, conn->core.in_end);
  posix::SetNonBlocking(conn->fd, false);  // the child reads blocking, as after accept(2)
  for (auto& [fd, c] : conns_) {
    if (c != conn) posix::Close(fd);
    delete c;
  }
  conns_.clear();
  ready_.clear();
  heads_.head = heads_.tail = nullptr;
  poller_.Close();  // our copy only: the parent's registrations stay
}

void HeadWait::CloseAll() {
  while (!conns_.empty()) Close(conns_.begin()->second);
  ready_.clear();
}

}  // namespace engine
