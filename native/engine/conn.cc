#include "engine/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include "engine/counters.h"
#include "engine/head_wait.h"
#include "engine/stop.h"
#include "engine/watchdog.h"
#include "posix/sys.h"

namespace engine {

using http::ConnState;
using http::Step;

Connection::Connection(int fd, const Limits& limits) : fd_(fd), limits_(limits) {
  core_.proxy_pending = limits.proxy_protocol;
  // A fork child whose parent waited for the head (--fork-after head) starts with the bytes it read.
  TakeInheritedInput(fd, &core_);
  // Head and body may go out in two writes: never let Nagle hold the second.
  posix::SetSockOptInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (fd_ >= 0) posix::Close(fd_);
  fd_ = -1;
}

long Connection::Fill(int timeout_ms) {
  int64_t deadline = posix::MonotonicMs() + timeout_ms;
  bool draining = false;
  for (;;) {
    // Asked to stop while idle between requests: one more request may be on
    // its way; it gets kStopIdleMs (stop.h), then the connection closes.
    if (StopRequested() && core_.state == ConnState::kHead && core_.in_end == 0 && !draining) {
      draining = true;
      int64_t until = posix::MonotonicMs() + kStopIdleMs;
      if (until < deadline) deadline = until;
    }
    struct pollfd p = {fd_, POLLIN, 0};
    int64_t left = deadline - posix::MonotonicMs();
    if (left < 0) left = 0;
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;  // a handler ran (SIGTERM: see above); keep waiting
    if (r == 0 && draining) return 0;       // stopped, and nothing more came: close
    if (r < 0) return -errno;
    if (r == 0) return -ETIMEDOUT;
    size_t space = 0;
    char* into = core_.ReadInto(&space);
    if (!into) return -ENOMEM;
    ssize_t n = posix::Read(fd_, into, space);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n < 0) return n == -ECONNRESET ? 0 : n;
    core_.Received(static_cast<size_t>(n));
    return n;
  }
}

int Connection::Flush(const char* extra, size_t extra_len) {
  struct iovec iov[2];
  int n = 0;
  size_t queued = core_.pending();
  if (queued) iov[n++] = {const_cast<char*>(core_.pending_data()), queued};
  if (extra_len) iov[n++] = {const_cast<char*>(extra), extra_len};
  if (n == 0) return 0;
  ssize_t r = posix::SendAll(fd_, iov, n);
  if (r < 0) return static_cast<int>(r);
  core_.Written(queued);
  return 0;
}

ReadResult Connection::Reject(int status, int* out) {
  *out = status;
  core_.QueueError(status);
  Flush();
  counters::Response(status);
  return ReadResult::kRejected;
}

ReadResult Connection::ReadRequest(Request* req, int* status) {
  if (dispatched_) {
    core_.NextRequest();  // the last request's bytes go; pipelined ones move to the front
    dispatched_ = false;
  }
  // The head (and a PROXY header before it) must arrive within
  // header_timeout_ms of its first byte, or of the start when bytes are
  // already here; idle, the connection waits keepalive_timeout_ms. Each read
  // of a body must come within header_timeout_ms.
  int64_t head_deadline = core_.in_end > 0 || core_.proxy_pending ? posix::MonotonicMs() + limits_.header_timeout_ms : -1;
  for (;;) {
    int st = 0;
    Step s = core_.Advance(limits_, req, &st);
    if (s == Step::kRequest) {
      dispatched_ = true;
      if (StopRequested()) core_.keep_alive = false;  // the last request of a stopping server
      return ReadResult::kRequest;
    }
    if (s == Step::kReject) return Reject(st, status);
    if (s == Step::kDrop) return ReadResult::kClosed;  // not a PROXY header: close without an answer
    if (core_.pending() && Flush() < 0) return ReadResult::kClosed;  // 100 Continue
    bool idle = core_.state == ConnState::kHead && core_.in_end == 0 && !core_.proxy_pending;
    if (!idle && head_deadline < 0 && core_.state == ConnState::kHead) head_deadline = posix::MonotonicMs() + limits_.header_timeout_ms;
    int timeout = limits_.header_timeout_ms;
    if (idle) timeout = limits_.keepalive_timeout_ms;
    else if (core_.state == ConnState::kHead) {
      int64_t left = head_deadline - posix::MonotonicMs();
      timeout = left > 0 ? static_cast<int>(left) : 0;
    }
    long n = Fill(timeout);
    if (n == -ETIMEDOUT) {
      if (idle || core_.proxy_pending) return ReadResult::kClosed;  // an idle keep-alive connection; a late PROXY header
      return Reject(408, status);
    }
    if (n <= 0) return ReadResult::kClosed;  // end of stream mid-request: nothing to answer
  }
}

void Connection::Started(int status) {
  WatchdogResponseStarted();
  counters::Response(status);
}

int Connection::WriteHead(const http::ResponseHead& head, const char* body, int64_t body_length) {
  // A stop asked for since the request was read closes the connection
  // after this response: the head must say so (Connection: close), or the
  // client sends its next request into a closed socket.
  if (!core_.QueueHead(head, body_length, !StopRequested())) return -EINVAL;
  Started(head.status);
  if (body_length > 0 && core_.send_body) {
    core_.body_bytes = static_cast<uint64_t>(body_length);
    return Flush(body, static_cast<size_t>(body_length));  // head and body in one sendmsg, no copy
  }
  return Flush();
}

int Connection::WriteFile(const http::ResponseHead& head, FileSegment* file) {
  if (!core_.QueueHead(head, static_cast<int64_t>(file->left), !StopRequested())) return -EINVAL;
  Started(head.status);
  if (!core_.send_body) file->left = 0;
  core_.body_bytes = file->left;
  // MSG_MORE: the head waits in the kernel for the file's first bytes, so
  // a small file goes out in one segment with its head.
  size_t queued = core_.pending();
  ssize_t r;
  do r = posix::Send(fd_, core_.pending_data(), queued, file->left ? kMsgMore : 0);
  while (r == -EINTR);
  if (r >= 0 && static_cast<size_t>(r) < queued) r = posix::WriteAll(fd_, core_.pending_data() + r, queued - static_cast<size_t>(r));
  if (r < 0) {
    file->Close();
    return static_cast<int>(r);
  }
  core_.Written(queued);
  for (;;) {
    // 1 MiB at a time, so a download that progresses is not ended by --timeout.
    FileStep step = SendFileSome(fd_, file, 1u << 20);
    if (step == FileStep::kDone) return 0;
    if (step == FileStep::kYield) {
      WatchdogProgress();
      continue;
    }
    file->Close();
    core_.keep_alive = false;
    return step == FileStep::kChanged ? -ESTALE : -EPIPE;
  }
}

int Connection::WriteBody(const char* data, size_t len) {
  if (!core_.send_body || len == 0) return 0;
  if (!core_.chunked_out) {
    core_.body_bytes += len;
    ssize_t r = posix::WriteAll(fd_, data, len);
    return r < 0 ? static_cast<int>(r) : 0;
  }
  char line[24];
  size_t k = core_.ChunkLine(len, line);
  struct iovec iov[3] = {{line, k}, {const_cast<char*>(data), len}, {const_cast<char*>("\r\n"), 2}};
  ssize_t r = posix::SendAll(fd_, iov, 3);
  return r < 0 ? static_cast<int>(r) : 0;
}

int Connection::End() {
  if (!core_.send_body || !core_.chunked_out) return 0;
  ssize_t r = posix::WriteAll(fd_, http::kLastChunk, sizeof http::kLastChunk - 1);
  return r < 0 ? static_cast<int>(r) : 0;
}

}  // namespace engine
