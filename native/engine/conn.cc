#include "engine/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "engine/counters.h"
#include "engine/stop.h"
#include "engine/watchdog.h"
#include "posix/sys.h"

namespace engine {

static int64_t NowMs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

Connection::Connection(int fd, const Limits& limits) : fd_(fd), limits_(limits) {
  buf_.resize(16384);
  proxy_pending_ = limits.proxy_protocol;
  // Head and body may go out in two writes: never let Nagle hold the second.
  posix::SetSockOptInt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
}

Connection::~Connection() { Close(); }

void Connection::Close() {
  if (fd_ >= 0) posix::Close(fd_);
  fd_ = -1;
}

void Connection::Reserve(size_t need) {
  if (buf_.size() < need) buf_.resize(need < buf_.size() * 2 ? buf_.size() * 2 : need);
}

long Connection::Fill(int timeout_ms) {
  if (end_ == buf_.size()) Reserve(buf_.size() * 2);
  int64_t deadline = NowMs() + timeout_ms;
  bool draining = false;
  for (;;) {
    // Asked to stop while idle between requests: one more request may be on
    // its way; it gets kStopIdleMs (stop.h), then the connection closes.
    if (StopRequested() && end_ == start_ && !draining) {
      draining = true;
      int64_t until = NowMs() + kStopIdleMs;
      if (until < deadline) deadline = until;
    }
    struct pollfd p = {fd_, POLLIN, 0};
    int64_t left = deadline - NowMs();
    if (left < 0) left = 0;
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;  // a handler ran (SIGTERM: see above); keep waiting
    if (r == 0 && draining) return 0;       // stopped, and nothing more came: close
    if (r < 0) return -errno;
    if (r == 0) return -ETIMEDOUT;
    ssize_t n = posix::Read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (n == -EINTR || n == -EAGAIN) continue;
    if (n < 0) return n == -ECONNRESET ? 0 : n;
    end_ += static_cast<size_t>(n);
    return n;
  }
}

ReadResult Connection::Reject(int status, int* out) {
  *out = status;
  std::string resp = http::ErrorResponse(status, http::StartsWithHead(buf_.data() + start_, end_ - start_));
  posix::WriteAll(fd_, resp.data(), resp.size());
  counters::Response(status);
  keep_alive_ = false;
  return ReadResult::kRejected;
}

void Connection::Continue100(const Request* req) {
  // RFC 9110 §10.1.1: only an HTTP/1.1 client waits for the interim response.
  static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  if (req->head.expect_continue && req->head.minor_version >= 1)
    posix::WriteAll(fd_, kContinue, sizeof kContinue - 1);
}

bool Connection::ReadProxyHeader() {
  proxy_pending_ = false;
  int64_t deadline = NowMs() + limits_.header_timeout_ms;
  for (;;) {
    http::ProxyAddress pa;
    long r = http::ParseProxyHeader(buf_.data(), end_, &pa);
    if (r < 0) return false;
    if (r > 0) {
      if (!pa.local) proxied_ = pa;
      start_ = static_cast<size_t>(r);
      return true;
    }
    int64_t left = deadline - NowMs();
    if (left <= 0) return false;
    if (Fill(static_cast<int>(left)) <= 0) return false;
  }
}

ReadResult Connection::ReadRequest(Request* req, int* status) {
  // A load balancer's PROXY header comes before the first request.
  if (proxy_pending_ && !ReadProxyHeader()) {
    keep_alive_ = false;
    return ReadResult::kClosed;
  }
  // Move pipelined bytes of the next request to the front.
  if (start_ > 0) {
    memmove(buf_.data(), buf_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  body_bytes_ = 0;
  int64_t header_deadline = end_ > 0 ? NowMs() + limits_.header_timeout_ms : -1;
  size_t head_len = 0;
  for (;;) {
    if (end_ > 0) {
      req->head.headers = req->fields;
      req->head.num_headers = sizeof req->fields / sizeof req->fields[0];
      int st = 0;
      int r = hp_parse_request(buf_.data(), end_, &req->head, &limits_.parser, &st);
      if (r > 0) {
        head_len = static_cast<size_t>(r);
        break;
      }
      if (r == HP_ERROR) return Reject(st, status);
    }
    int timeout = limits_.keepalive_timeout_ms;
    if (header_deadline >= 0) {
      int64_t left = header_deadline - NowMs();
      timeout = left > 0 ? static_cast<int>(left) : 0;
    }
    long n = Fill(timeout);
    if (n == -ETIMEDOUT) {
      if (end_ == 0) return ReadResult::kClosed;  // idle keep-alive connection
      return Reject(408, status);
    }
    if (n <= 0) return ReadResult::kClosed;  // end of stream mid-head: nothing to answer
    if (header_deadline < 0) header_deadline = NowMs() + limits_.header_timeout_ms;
  }
  ReadResult res = ReadResult::kRequest;
  if (req->head.body_kind == HP_BODY_LENGTH) {
    res = ReadLengthBody(head_len, req->head.content_length, req, status);
  } else if (req->head.body_kind == HP_BODY_CHUNKED) {
    res = ReadChunkedBody(head_len, req, status);
  } else {
    req->body = buf_.data() + head_len;
    req->body_len = 0;
    start_ = head_len;
  }
  if (res != ReadResult::kRequest) return res;
  // Reading the body may have moved the buffer: parse the head again so its
  // pointers are fresh (heads are small; the bytes are unchanged).
  req->head.headers = req->fields;
  req->head.num_headers = sizeof req->fields / sizeof req->fields[0];
  int st = 0;
  hp_parse_request(buf_.data(), head_len, &req->head, &limits_.parser, &st);
  req->body = buf_.data() + head_len;
  keep_alive_ = limits_.keep_alive && req->head.keep_alive && !req->head.must_close && !StopRequested();
  minor_version_ = req->head.minor_version;
  head_request_ = req->head.method_len == 4 && memcmp(req->head.method, "HEAD", 4) == 0;
  return ReadResult::kRequest;
}

ReadResult Connection::ReadLengthBody(size_t head_len, uint64_t length, Request* req, int* status) {
  if (length > limits_.max_body) return Reject(413, status);
  size_t total = head_len + static_cast<size_t>(length);
  if (end_ < total) Continue100(req);
  Reserve(total);
  while (end_ < total) {
    long n = Fill(limits_.header_timeout_ms);
    if (n == -ETIMEDOUT) return Reject(408, status);
    if (n <= 0) return ReadResult::kClosed;
  }
  req->body_len = static_cast<size_t>(length);
  start_ = total;
  return ReadResult::kRequest;
}

ReadResult Connection::ReadChunkedBody(size_t head_len, Request* req, int* status) {
  hp_chunked dec;
  memset(&dec, 0, sizeof dec);
  size_t body_end = head_len;  // decoded bytes live in [head_len, body_end)
  size_t raw = head_len;       // undecoded bytes live in [raw, end_)
  bool asked = false;
  for (;;) {
    size_t len = end_ - raw;
    int st = 0;
    long r = len ? hp_chunked_decode(&dec, buf_.data() + raw, &len, &limits_.parser, &st) : HP_INCOMPLETE;
    if (r == HP_ERROR) return Reject(st ? st : 400, status);
    if (len) memmove(buf_.data() + body_end, buf_.data() + raw, len);
    body_end += len;
    if (body_end - head_len > limits_.max_body) return Reject(413, status);
    if (r >= 0) {
      // The next request's bytes were moved right after the decoded data.
      memmove(buf_.data() + body_end, buf_.data() + raw + len, static_cast<size_t>(r));
      end_ = body_end + static_cast<size_t>(r);
      break;
    }
    end_ = raw = body_end;
    if (!asked) {
      Continue100(req);
      asked = true;
    }
    long n = Fill(limits_.header_timeout_ms);
    if (n == -ETIMEDOUT) return Reject(408, status);
    if (n <= 0) return ReadResult::kClosed;
  }
  req->body_len = body_end - head_len;
  start_ = body_end;
  return ReadResult::kRequest;
}

bool Connection::BeginResponse(const http::ResponseHead& head, int64_t body_length, std::string* out) {
  http::FramingInput in;
  in.minor_version = minor_version_;
  in.head_request = head_request_;
  // A stop asked for since the request was read closes the connection
  // after this response: the head must say so (Connection: close), or the
  // client sends its next request into a closed socket.
  in.keep_alive = keep_alive_ && !StopRequested();
  in.body_length = body_length;
  http::Framing fr;
  if (!http::FormatHead(head, in, out, &fr)) return false;
  keep_alive_ = fr.keep_alive;
  chunked_out_ = fr.chunked;
  send_body_ = fr.send_body;
  WatchdogResponseStarted();
  counters::Response(head.status);
  return true;
}

int Connection::WriteHead(const http::ResponseHead& head, const char* body, int64_t body_length) {
  std::string out;
  if (!BeginResponse(head, body_length, &out)) return -EINVAL;
  if (body_length >= 0 && send_body_ && body_length <= 65536) {
    out.append(body, static_cast<size_t>(body_length));  // one write for small responses
    body_bytes_ = static_cast<uint64_t>(body_length);
    ssize_t r = posix::WriteAll(fd_, out.data(), out.size());
    return r < 0 ? static_cast<int>(r) : 0;
  }
  ssize_t r = posix::WriteAll(fd_, out.data(), out.size());
  if (r < 0) return static_cast<int>(r);
  if (body_length > 0 && send_body_) {
    body_bytes_ = static_cast<uint64_t>(body_length);
    r = posix::WriteAll(fd_, body, static_cast<size_t>(body_length));
    if (r < 0) return static_cast<int>(r);
  }
  return 0;
}

int Connection::WriteFile(const http::ResponseHead& head, FileSegment* file) {
  std::string out;
  if (!BeginResponse(head, static_cast<int64_t>(file->left), &out)) return -EINVAL;
  if (!send_body_) file->left = 0;
  body_bytes_ = file->left;
  // MSG_MORE: the head waits in the kernel for the file's first bytes, so
  // a small file goes out in one segment with its head.
  ssize_t r;
  do r = posix::Send(fd_, out.data(), out.size(), file->left ? kMsgMore : 0);
  while (r == -EINTR);
  if (r >= 0 && static_cast<size_t>(r) < out.size()) r = posix::WriteAll(fd_, out.data() + r, out.size() - static_cast<size_t>(r));
  if (r < 0) {
    file->Close();
    return static_cast<int>(r);
  }
  for (;;) {
    // 1 MiB at a time, so a download that progresses is not ended by --timeout.
    FileStep step = SendFileSome(fd_, file, 1u << 20);
    if (step == FileStep::kDone) return 0;
    if (step == FileStep::kYield) {
      WatchdogProgress();
      continue;
    }
    file->Close();
    keep_alive_ = false;
    return step == FileStep::kChanged ? -ESTALE : -EPIPE;
  }
}

int Connection::WriteBody(const char* data, size_t len) {
  if (!send_body_ || len == 0) return 0;
  body_bytes_ += len;
  if (chunked_out_) {
    char size_line[32];
    int n = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
    std::string frame;
    frame.reserve(len + 40);
    frame.append(size_line, static_cast<size_t>(n)).append(data, len).append("\r\n");
    ssize_t r = posix::WriteAll(fd_, frame.data(), frame.size());
    return r < 0 ? static_cast<int>(r) : 0;
  }
  ssize_t r = posix::WriteAll(fd_, data, len);
  return r < 0 ? static_cast<int>(r) : 0;
}

int Connection::End() {
  if (!send_body_ || !chunked_out_) return 0;
  static const char kLast[] = "0\r\n\r\n";
  ssize_t r = posix::WriteAll(fd_, kLast, sizeof kLast - 1);
  return r < 0 ? static_cast<int>(r) : 0;
}

}  // namespace engine
