#include "engine/poll_loop.h"
#include "engine/counters.h"
#include "engine/stop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0  // macOS: SO_NOSIGPIPE is set on each socket instead
#endif

namespace engine {

static constexpr int kEventBatch = 256;      // events handled per RunOnce
static constexpr int kAcceptBatch = 128;     // connections accepted per wake-up (fairness)
static constexpr int kAcceptPauseMs = 100;   // after EMFILE and the like
static constexpr int kLingerMs = 2000;       // how long a closing connection waits for the peer's EOF
static constexpr size_t kHighWater = 65536;  // Write asks the app to wait above this much queued output
static constexpr uint64_t kFileTurn = 2u << 20;  // file bytes one connection sends per turn (nginx's sendfile_max_chunk)

// Fills *out with the numeric host and port of ss.
static void PeerFrom(const sockaddr_storage& ss, posix::SockAddr* out) {
  out->family = ss.ss_family;
  out->host[0] = 0;
  out->port = 0;
  if (ss.ss_family == AF_INET) {
    auto* in4 = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in4->sin_addr, out->host, sizeof out->host);
    out->port = ntohs(in4->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, out->host, sizeof out->host);
    out->port = ntohs(in6->sin6_port);
  }
}

PollLoop::~PollLoop() {
  for (auto& kv : conns_) {
    if (kv.second->fd >= 0) close(kv.second->fd);
    delete kv.second;
  }
  for (PollConn* c : graveyard_) delete c;
  Shutdown();
}

int PollLoop::Start(const std::vector<int>& listen_fds, const Limits& limits, PollHandler* handler, const char** failed) {
  limits_ = limits;
  handler_ = handler;
  // Sized once: the poller holds pointers to the slots.
  listeners_.assign(listen_fds.begin(), listen_fds.end());
  idle_.timeout_ms = limits.keepalive_timeout_ms;
  io_.timeout_ms = limits.header_timeout_ms;
  linger_.timeout_ms = kLingerMs;
  drain_.timeout_ms = kStopIdleMs;
#ifdef __linux__
  const char* kPollerCall[2] = {"epoll_create1", "epoll_ctl"};
#else
  const char* kPollerCall[2] = {"kqueue", "kevent"};
#endif
  int r = poller_.Open();
  if (r < 0) {
    *failed = kPollerCall[0];
    return r;
  }
  for (int fd : listeners_) {
    // Level-triggered with a batch of accepts per wake-up: the last accept
    // must say EAGAIN, not block. O_NONBLOCK is a flag of the open file
    // description, shared by every process that inherited the socket, so it
    // is never cleared again: a prefork worker that stops must not turn its
    // siblings' accepts blocking (they would sleep in accept(2) with their
    // keep-alive connections waiting).
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      r = -errno;
      poller_.Close();
      *failed = "fcntl";
      return r;
    }
    // Whole responses go out in one write, but pipelined responses and a
    // streamed body's chunks must not wait for the previous ACK (Nagle). On
    // Linux accepted sockets inherit it from the listener: one setsockopt
    // here instead of one per connection (best effort: not every socket is TCP).
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  r = Listen(true);
  if (r < 0) {
    Shutdown();
    *failed = kPollerCall[1];
    return r;
  }
  started_ = true;
  now_ = posix::MonotonicMs();
  return 0;
}

int PollLoop::Listen(bool on) {
  if (on == listening_) return 0;
  for (size_t i = 0; i < listeners_.size(); i++) {
    if (!on) {
      poller_.Remove(listeners_[i]);
      continue;
    }
    int r = poller_.AddLevelRead(listeners_[i], &listeners_[i]);
    if (r < 0) {
      while (i-- > 0) poller_.Remove(listeners_[i]);
      return r;
    }
  }
  listening_ = on;
  return 0;
}

int PollLoop::ListenerOf(const void* data) const {
  if (listeners_.empty()) return -1;
  const int* p = static_cast<const int*>(data);
  if (p < listeners_.data() || p >= listeners_.data() + listeners_.size()) return -1;
  return static_cast<int>(p - listeners_.data());
}

void PollLoop::Shutdown() {
  Listen(false);
  poller_.Close();
}

PollConn* PollLoop::Find(uint32_t id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second;
}

void PollLoop::RunOnce() {
  if (!started_ || stopped_) return;
  // Connections the app closed since the last run left the poller before
  // close(2), so no event of this batch can name them: free them first.
  Sweep();
  PollerEvent evs[kEventBatch];
  int n = poller_.Wait(evs, kEventBatch, 0);
  now_ = posix::MonotonicMs();
  if (n < 0) handler_->OnError(n, "epoll_wait");
  for (int i = 0; i < n; i++) {
    int li = ListenerOf(evs[i].data);
    if (li >= 0) {
      if (listening_) Accept(li);
      continue;
    }
    // A connection closed earlier in this batch is still allocated (freed
    // by Sweep after the batch): its flag says to skip it.
    PollConn* c = static_cast<PollConn*>(evs[i].data);
    if (c->closed) continue;
    if (evs[i].hangup) c->eof_seen = true;
    if (evs[i].writable) OnWritable(c);
    if (evs[i].readable && !c->closed) {
      c->read_ready = true;
      Drive(c);
    }
  }
  ExpireDeadlines();
  RunPending();
}

void PollLoop::RunTimers() {
  if (!started_ || stopped_) return;
  now_ = posix::MonotonicMs();
  ExpireDeadlines();
  RunPending();
}

void PollLoop::RunPending() {
  if (!started_ || stopped_) return;
  now_ = posix::MonotonicMs();
  // Index loop: Drive may hand out a request the app answers at once,
  // queueing this connection again.
  for (size_t i = 0; i < resume_.size(); i++) {
    PollConn* c = Find(resume_[i]);
    if (!c) continue;
    c->queued = false;
    Drive(c);
  }
  resume_.clear();
  // Files that yielded: one more turn each (those that yield again wait for the next call).
  std::vector<uint32_t> sending;
  sending.swap(sending_);
  for (uint32_t id : sending) {
    PollConn* c = Find(id);
    if (c && c->state == ConnState::kFile && !c->write_blocked) PumpFile(c);
  }
  Sweep();
  if (stopping_ && conns_.empty() && graveyard_.empty()) {
    stopped_ = true;
    handler_->OnStopped();
  }
}

bool PollLoop::HasPendingWork() const {
  if (!started_ || stopped_) return false;
  return !resume_.empty() || !sending_.empty() || !graveyard_.empty() || (stopping_ && conns_.empty());
}

int64_t PollLoop::NextDeadline() const {
  int64_t next = -1;
  for (const DeadlineList* l : {&idle_, &io_, &linger_, &drain_})
    if (l->head && (next < 0 || l->head->deadline < next)) next = l->head->deadline;
  if (accept_resume_at_ >= 0 && (next < 0 || accept_resume_at_ < next)) next = accept_resume_at_;
  return next;
}

bool PollLoop::Accept(int listener) {
  int listen_fd = listeners_[static_cast<size_t>(listener)];
  for (int i = 0; i < kAcceptBatch; i++) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
#ifdef __linux__
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    int fd = accept(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (fd >= 0) {
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);  // no MSG_NOSIGNAL on macOS
    }
#endif
    if (fd < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) return false;
      if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;  // that connection is gone; others wait
      if (e == EINVAL) {
        // Not listening any more: the prefork master shut the socket down at
        // the end of a graceful stop (posix::StopListening). Nothing to accept.
        Listen(false);
        return false;
      }
      handler_->OnError(-e, "accept");
      // Out of descriptors or memory: the listening socket stays readable,
      // so stop watching it for a while instead of spinning.
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) PauseAccept();
      return false;
    }
#ifndef __linux__
    // Linux copies TCP_NODELAY from the listening socket (set in Start).
    int nodelay = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
#endif
    PollConn* c = new PollConn;
    c->fd = fd;
    c->listener = static_cast<uint8_t>(listener);
    c->proxy_pending = limits_.proxy_protocol;
    PeerFrom(ss, &c->peer);
    do c->id = ++next_id_;
    while (c->id == 0 || conns_.count(c->id));
    int r = poller_.AddEdge(fd, c);
    if (r < 0) {
      close(fd);
      delete c;
      handler_->OnError(r, "epoll_ctl");
      continue;
    }
    conns_.emplace(c->id, c);
    // A new connection waits for its first request like an idle one (as the
    // blocking engines do). Its bytes, if already here, come as an event.
    idle_.Push(c, now_);
  }
  return true;
}

void PollLoop::PauseAccept() {
  Listen(false);
  accept_resume_at_ = now_ + kAcceptPauseMs;
}

void PollLoop::Drive(PollConn* c) {
  bool progress = false;
  for (;;) {
    if (c->closed) return;
    if (c->state == ConnState::kLinger) {
      Drain(c);
      return;
    }
    // Waiting for the app or for output: input stays in the kernel, which
    // is the backpressure on a pipelining client. read_ready remembers it.
    if (c->state != ConnState::kHead && c->state != ConnState::kBody) return;
    int status = 0;
    Step s = c->Advance(limits_, &scratch_, &status);
    if (c->proxied.host[0]) {
      // The PROXY header named the client: it is the peer from now on.
      c->peer.family = c->proxied.family;
      snprintf(c->peer.host, sizeof c->peer.host, "%s", c->proxied.host);
      c->peer.port = c->proxied.port;
      c->proxied.host[0] = 0;
    }
    if (s == Step::kDrop) {
      handler_->OnError(-EPROTO, "PROXY protocol header");
      CloseConn(c);
      return;
    }
    if (s == Step::kReject) {
      Reject(c, status);
      return;
    }
    if (s == Step::kRequest) {
      DeadlineList::Unlink(c);
      c->dispatched = true;
      requests_++;
      handler_->OnRequest(c->id, scratch_, c->keep_alive && !stopping_, c->peer, c->listener);
      return;
    }
    if (c->pending() && !c->write_blocked && Send(c, nullptr, 0) < 0) return;  // 100 Continue
    if (!c->read_ready) break;
    size_t space = 0;
    char* p = c->ReadInto(&space);
    ssize_t n = ReadSome(c, p, space);
    if (n < 0) return;  // closed: a partial request has no one to answer
    if (n == 0) break;
    c->in_end += static_cast<size_t>(n);
    progress = true;
  }
  ArmReadDeadline(c, progress);
}

ssize_t PollLoop::ReadSome(PollConn* c, char* p, size_t space) {
  if (!p) {
    CloseConn(c);
    return -1;
  }
  for (;;) {
    ssize_t n = read(c->fd, p, space);
    if (n > 0) {
      // A short read emptied the socket: the next edge says when more comes
      // (one read per request instead of a read that says EAGAIN). After the
      // peer's FIN there is no next edge: read on until read() says 0.
      if (static_cast<size_t>(n) < space && !c->eof_seen) c->read_ready = false;
      return n;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->read_ready = false;
      return 0;
    }
    CloseConn(c);  // end of stream, or an error
    return -1;
  }
}

void PollLoop::Drain(PollConn* c) {
  while (c->read_ready) {
    size_t space = 0;
    char* p = c->ReadInto(&space);
    if (ReadSome(c, p, space) <= 0) return;
  }
}

void PollLoop::ArmReadDeadline(PollConn* c, bool progress) {
  if (c->write_blocked) return;  // the write deadline runs
  if (c->state == ConnState::kHead) {
    // Idle until the first byte; then the whole head must come in time
    // (set once, not moved by each read: a trickle does not extend it).
    DeadlineList* want = c->in_end == 0 ? (stopping_ && c->dispatched ? &drain_ : &idle_) : &io_;
    if (c->list != want) want->Push(c, now_);
  } else if (c->state == ConnState::kBody) {
    // A body may be long: each read must come in time.
    if (progress || c->list != &io_) io_.Push(c, now_);
  }
}

int PollLoop::Send(PollConn* c, const Piece* pieces, int n) {
  if (c->write_blocked) {
    for (int i = 0; i < n; i++) c->Queue(pieces[i].data, pieces[i].len);
    return 1;
  }
  struct iovec iov[4];
  int k = 0;
  size_t queued = c->pending();
  if (queued) iov[k++] = {const_cast<char*>(c->out.data() + c->out_off), queued};
  for (int i = 0; i < n && k < 4; i++)
    if (pieces[i].len) iov[k++] = {const_cast<char*>(pieces[i].data), pieces[i].len};
  if (k == 0) return 0;
  // One sendmsg for head and body: no copy of the body, no second write.
  // MSG_MORE while a file follows the head: the kernel waits for the
  // file's first bytes, and a small file leaves in one segment with it.
  int flags = c->file.active() && c->file.left ? kMsgMore : 0;
  ssize_t w;
  do w = posix::SendMsg(c->fd, iov, k, flags);
  while (w == -EINTR);
  if (w < 0) {
    if (w != -EAGAIN && w != -EWOULDBLOCK) {
      CloseConn(c);  // EPIPE, ECONNRESET: the peer is gone
      return -1;
    }
    w = 0;
  }
  size_t left = static_cast<size_t>(w);
  size_t q = left < queued ? left : queued;
  c->Written(q);
  left -= q;
  for (int i = 0; i < n; i++) {
    size_t t = left < pieces[i].len ? left : pieces[i].len;
    left -= t;
    if (t < pieces[i].len) c->Queue(pieces[i].data + t, pieces[i].len - t);
  }
  if (c->pending() == 0) return 0;
  c->write_blocked = true;
  io_.Push(c, now_);  // a peer that stops reading is closed after the timeout
  return 1;
}

void PollLoop::OnWritable(PollConn* c) {
  if (!c->write_blocked) return;  // an edge we did not wait for
  c->write_blocked = false;
  int r = Send(c, nullptr, 0);
  if (r != 0) return;  // closed, or blocked again (deadline renewed)
  DeadlineList::Unlink(c);
  if (c->want_drain) {
    c->want_drain = false;
    handler_->OnDrain(c->id);
    if (c->closed) return;
  }
  if (c->state == ConnState::kFile) PumpFile(c);
  else if (c->state == ConnState::kFlush) AfterResponse(c);
  else if (c->state == ConnState::kHead || c->state == ConnState::kBody) ArmReadDeadline(c, true);
}

void PollLoop::ResponseDone(PollConn* c) {
  c->state = ConnState::kFlush;
  if (c->pending() == 0) AfterResponse(c);  // else OnWritable finishes it
}

void PollLoop::AfterResponse(PollConn* c) {
  if (!c->keep_alive || stopping_) {
    CloseAfterResponse(c);
    return;
  }
  c->NextRequest();
  // A pipelined request already buffered, or input the kernel holds: go on
  // from RunPending (never from inside the app's call into Respond/End).
  if (c->in_end > 0 || c->read_ready) Resume(c);
  else idle_.Push(c, now_);
}

void PollLoop::CloseAfterResponse(PollConn* c) {
  // Closing with unread input makes the kernel send RST, which may destroy
  // the response before the client reads it. When the peer may still be
  // sending, shut down our side and read until its EOF (or the linger
  // timeout) first.
  if (!c->must_linger && !c->read_ready) {
    CloseConn(c);
    return;
  }
  shutdown(c->fd, SHUT_WR);
  c->state = ConnState::kLinger;
  linger_.Push(c, now_);
  if (c->read_ready) Resume(c);
}

void PollLoop::Reject(PollConn* c, int status) {
  handler_->OnRejected(status, c->peer);
  if (c->closed) return;
  DeadlineList::Unlink(c);
  c->QueueError(status);
  counters::Response(status);
  c->must_linger = true;  // the rest of a bad request may be on its way
  if (Send(c, nullptr, 0) < 0) return;
  ResponseDone(c);
}

void PollLoop::Resume(PollConn* c) {
  if (c->queued) return;
  c->queued = true;
  resume_.push_back(c->id);
}

void PollLoop::CloseConn(PollConn* c) {
  if (c->closed) return;
  poller_.Remove(c->fd);
  close(c->fd);
  c->fd = -1;
  c->closed = true;
  DeadlineList::Unlink(c);
  conns_.erase(c->id);
  c->FreeInput();
  c->file.Close();
  std::string().swap(c->out);
  c->out_off = 0;
  graveyard_.push_back(c);  // freed by Sweep, outside any batch that may name it
}

void PollLoop::Sweep() {
  while (!graveyard_.empty()) {
    std::vector<PollConn*> dead;
    dead.swap(graveyard_);
    for (PollConn* c : dead) {
      // An app waiting to write hears it may go on (and then that it cannot).
      if (c->want_drain) handler_->OnDrain(c->id);
      if (c->dispatched) handler_->OnClose(c->id);
      delete c;
    }
  }
}

void PollLoop::ExpireDeadlines() {
  while (DeadlineNode* n = idle_.Expired(now_)) CloseConn(static_cast<PollConn*>(n));
  while (DeadlineNode* n = io_.Expired(now_)) {
    PollConn* c = static_cast<PollConn*>(n);
    if (c->write_blocked) CloseConn(c);  // the peer stopped reading
    else if (c->proxy_pending) CloseConn(c);  // a PROXY header too slow: no HTTP answer to a load balancer
    else if (c->state == ConnState::kHead || c->state == ConnState::kBody) Reject(c, 408);
    else DeadlineList::Unlink(c);
    if (!c->closed && c->list == &io_ && c->deadline <= now_) CloseConn(c);  // never loop on one entry
  }
  while (DeadlineNode* n = linger_.Expired(now_)) CloseConn(static_cast<PollConn*>(n));
  while (DeadlineNode* n = drain_.Expired(now_)) CloseConn(static_cast<PollConn*>(n));
  if (accept_resume_at_ >= 0 && now_ >= accept_resume_at_) {
    accept_resume_at_ = -1;
    if (!stopping_) Listen(true);
  }
}

int64_t PollLoop::Respond(uint32_t id, const http::ResponseHead& head, const char* body, int64_t body_length) {
  PollConn* c = Find(id);
  if (!c) return -ENOTCONN;
  if (c->state != ConnState::kApp) return -EALREADY;
  now_ = posix::MonotonicMs();  // the app answers later than the last event: deadlines count from now
  if (!c->QueueHead(head, body_length, !stopping_)) return -EINVAL;
  counters::Response(head.status);
  if (body_length < 0) {
    c->state = ConnState::kStream;
    return Send(c, nullptr, 0) < 0 ? -ENOTCONN : 0;
  }
  int64_t bytes = c->send_body ? body_length : 0;
  c->body_bytes = static_cast<uint64_t>(bytes);
  Piece p[1] = {{body, static_cast<size_t>(bytes)}};
  if (Send(c, p, 1) < 0) return -ENOTCONN;
  ResponseDone(c);
  return bytes;
}

int64_t PollLoop::RespondFile(uint32_t id, const http::ResponseHead& head, FileSegment* file) {
  PollConn* c = Find(id);
  if (!c || c->state != ConnState::kApp) {
    file->Close();
    return c ? -EALREADY : -ENOTCONN;
  }
  now_ = posix::MonotonicMs();
  if (!c->QueueHead(head, static_cast<int64_t>(file->left), !stopping_)) return -EINVAL;
  counters::Response(head.status);
  c->file = *file;
  file->fd = -1;  // the connection owns it now
  if (!c->send_body) {
    c->file.Close();
    c->file.left = 0;
  }
  int64_t bytes = static_cast<int64_t>(c->file.left);
  c->body_bytes = static_cast<uint64_t>(bytes);
  c->state = ConnState::kFile;
  int r = Send(c, nullptr, 0);
  if (r < 0) return -ENOTCONN;
  if (r == 0) PumpFile(c);  // else the writable edge goes on (OnWritable)
  return bytes;
}

void PollLoop::PumpFile(PollConn* c) {
  if (!c->file.active()) {  // nothing (left) to send: HEAD, or done
    ResponseDone(c);
    return;
  }
  switch (SendFileSome(c->fd, &c->file, kFileTurn)) {
    case FileStep::kDone:
      ResponseDone(c);
      return;
    case FileStep::kBlocked:
      c->write_blocked = true;
      io_.Push(c, now_);  // a peer that stops reading is closed after the timeout
      return;
    case FileStep::kYield:
      sending_.push_back(c->id);
      return;
    case FileStep::kChanged:
    case FileStep::kFailed:
      CloseConn(c);
      return;
  }
}

int PollLoop::Write(uint32_t id, const char* data, size_t len) {
  PollConn* c = Find(id);
  if (!c) return -ENOTCONN;
  if (c->state != ConnState::kStream) return -EALREADY;
  now_ = posix::MonotonicMs();
  if (c->send_body && len > 0) {
    int r;
    if (c->chunked_out) {
      char line[24];
      size_t k = c->ChunkLine(len, line);
      Piece p[3] = {{line, k}, {data, len}, {"\r\n", 2}};
      r = Send(c, p, 3);
    } else {
      c->body_bytes += len;
      Piece p[1] = {{data, len}};
      r = Send(c, p, 1);
    }
    if (r < 0) return -ENOTCONN;
  }
  if (c->pending() >= kHighWater) {
    c->want_drain = true;
    return 0;
  }
  return 1;
}

int64_t PollLoop::End(uint32_t id) {
  PollConn* c = Find(id);
  if (!c) return -ENOTCONN;
  if (c->state != ConnState::kStream) return -EALREADY;
  now_ = posix::MonotonicMs();
  if (c->send_body && c->chunked_out) {
    Piece p[1] = {{http::kLastChunk, sizeof http::kLastChunk - 1}};
    if (Send(c, p, 1) < 0) return -ENOTCONN;
  }
  int64_t bytes = static_cast<int64_t>(c->body_bytes);
  ResponseDone(c);
  return bytes;
}

int PollLoop::Close(uint32_t id) {
  PollConn* c = Find(id);
  if (!c) return -ENOTCONN;
  CloseConn(c);
  return 0;
}

void PollLoop::Stop(bool graceful, bool refuse_new) {
  now_ = posix::MonotonicMs();
  if (!stopping_) {
    stopping_ = true;
    if (graceful) {
      // What the kernel already queued is ours to answer: a close would reset it.
      if (refuse_new)
        for (int fd : listeners_) posix::StopQueueing(fd);
      for (size_t i = 0; i < listeners_.size(); i++)
        while (Accept(static_cast<int>(i))) {
        }
      if (refuse_new)
        for (int fd : listeners_) posix::StopListening(fd);
    }
    Listen(false);
    accept_resume_at_ = -1;
  }
  std::vector<PollConn*> all;
  all.reserve(conns_.size());
  for (auto& kv : conns_) all.push_back(kv.second);
  for (PollConn* c : all) {
    // Graceful: requests in progress finish; their responses say
    // Connection: close. A connection between requests gets kStopIdleMs
    // (stop.h) for one more, which it may have sent already. A connection
    // accepted but not yet served keeps its deadline: its request may be on
    // the wire (a prefork reload must drop none).
    if (!graceful) CloseConn(c);
    else if (c->state == ConnState::kHead && c->in_end == 0 && c->dispatched && c->list == &idle_) drain_.Push(c, now_);
  }
}

}  // namespace engine
