#include "http/conn_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace http {

static constexpr size_t kInitialInput = 4096;   // most request heads fit
static constexpr size_t kKeepInput = 65536;     // a bigger buffer is given back between requests
static constexpr size_t kEagerBody = 131072;    // a Content-Length body up to this end is given its room at once
static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

ConnCore::~ConnCore() { FreeInput(); }

void ConnCore::FreeInput() {
  free(in);
  in = nullptr;
  in_cap = in_end = 0;
}

bool ConnCore::Reserve(size_t cap) {
  if (cap <= in_cap) return true;
  // realloc, not a vector: growing a body buffer must not zero it first.
  char* p = static_cast<char*>(realloc(in, cap));
  if (!p) return false;
  in = p;
  in_cap = cap;
  return true;
}

char* ConnCore::ReadInto(size_t* space) {
  if (state == ConnState::kLinger) in_end = 0;  // input is discarded
  if (in_end == in_cap) {
    size_t cap = in_cap ? in_cap * 2 : kInitialInput;
    // A Content-Length body never needs more than its own end. A small one
    // (up to kEagerBody) gets that room at once: doubling from 4 KiB would
    // realloc and copy five times for a 64 KiB body. A larger one grows by
    // doubling up to its end, not to the announced size at once (a client's
    // claim is not a reason to allocate a gigabyte).
    if (state == ConnState::kBody && body_kind == HP_BODY_LENGTH) {
      uint64_t want = head_len + content_length;
      if (want <= kEagerBody && want > cap) cap = static_cast<size_t>(want);
      if (want > in_end && cap > want) cap = static_cast<size_t>(want);
    }
    if (!Reserve(cap)) return nullptr;
  }
  *space = in_cap - in_end;
  return in + in_end;
}

bool ConnCore::Feed(const char* data, size_t len) {
  for (size_t fed = 0; fed < len;) {
    size_t space = 0;
    char* into = ReadInto(&space);
    if (!into) return false;
    size_t n = len - fed < space ? len - fed : space;
    memcpy(into, data + fed, n);
    Received(n);
    fed += n;
  }
  return true;
}

Step ConnCore::Dispatch(const CoreLimits& limits, Request* req, size_t body_len) {
  // Reading the body may have moved the buffer: parse the head again so its
  // pointers are fresh (the bytes are unchanged; heads are small).
  if (body_kind != HP_BODY_NONE) {
    req->head.headers = req->fields;
    req->head.num_headers = sizeof req->fields / sizeof req->fields[0];
    int st = 0;
    hp_parse_request(in, head_len, &req->head, &limits.parser, &st);
  }
  req->body = in + head_len;
  req->body_len = body_len;
  state = ConnState::kApp;
  return Step::kRequest;
}

Step ConnCore::ProxyStep() {
  http::ProxyAddress pa;
  long r = http::ParseProxyHeader(in, in_end, &pa);
  if (r < 0) return Step::kDrop;
  if (r == 0) return Step::kNeedMore;
  if (!pa.local) proxied = pa;
  memmove(in, in + r, in_end - static_cast<size_t>(r));
  in_end -= static_cast<size_t>(r);
  proxy_pending = false;
  return Step::kRequest;  // taken: go on with HTTP
}

// An incomplete head of `buffered` bytes. The parser rejects a request
// line or field section over the limits as soon as it sees it; this bound
// only stops a buffer that keeps growing.
static Step Incomplete(const CoreLimits& limits, size_t buffered, int* status) {
  if (buffered > limits.parser.max_request_line + limits.parser.max_header_bytes + 64) {
    *status = 431;
    return Step::kReject;
  }
  return Step::kNeedMore;
}

Step ConnCore::PeekHead(const CoreLimits& limits, int* status) const {
  size_t off = 0;
  if (proxy_pending) {
    ProxyAddress pa;
    long r = ParseProxyHeader(in, in_end, &pa);
    if (r < 0) return Step::kDrop;
    if (r == 0) return Step::kNeedMore;
    off = static_cast<size_t>(r);
  }
  if (in_end == off) return Step::kNeedMore;
  Request req;
  req.head.headers = req.fields;
  req.head.num_headers = sizeof req.fields / sizeof req.fields[0];
  int r = hp_parse_request(in + off, in_end - off, &req.head, &limits.parser, status);
  if (r == HP_ERROR) return Step::kReject;
  if (r == HP_INCOMPLETE) return Incomplete(limits, in_end - off, status);
  return Step::kRequest;
}

Step ConnCore::Advance(const CoreLimits& limits, Request* req, int* status) {
  if (state == ConnState::kBody) return BodyStep(limits, req, status);
  if (state != ConnState::kHead || in_end == 0) return Step::kNeedMore;
  if (proxy_pending) {
    Step s = ProxyStep();
    if (s != Step::kRequest) return s;
    if (in_end == 0) return Step::kNeedMore;
  }
  req->head.headers = req->fields;
  req->head.num_headers = sizeof req->fields / sizeof req->fields[0];
  int r = hp_parse_request(in, in_end, &req->head, &limits.parser, status);
  if (r == HP_ERROR) return Step::kReject;
  if (r == HP_INCOMPLETE) return Incomplete(limits, in_end, status);
  const hp_request& h = req->head;
  head_len = static_cast<size_t>(r);
  body_kind = h.body_kind;
  content_length = h.content_length;
  keep_alive = limits.keep_alive && h.keep_alive && !h.must_close;
  minor_version = h.minor_version;
  head_request = h.method_len == 4 && memcmp(h.method, "HEAD", 4) == 0;
  expect_continue = h.expect_continue != 0;
  continued = false;
  body_bytes = 0;
  if (body_kind == HP_BODY_NONE) {
    req_end = head_len;
    return Dispatch(limits, req, 0);
  }
  if (body_kind == HP_BODY_LENGTH && content_length > limits.max_body) {
    *status = 413;
    return Step::kReject;
  }
  if (body_kind == HP_BODY_CHUNKED) {
    memset(&chunked, 0, sizeof chunked);
    body_end = raw = head_len;
  }
  state = ConnState::kBody;
  return BodyStep(limits, req, status);
}

Step ConnCore::BodyStep(const CoreLimits& limits, Request* req, int* status) {
  if (body_kind == HP_BODY_LENGTH) {
    uint64_t end = head_len + content_length;
    if (in_end >= end) {
      req_end = static_cast<size_t>(end);
      return Dispatch(limits, req, static_cast<size_t>(content_length));
    }
  } else {
    size_t len = in_end - raw;
    long r = len ? hp_chunked_decode(&chunked, in + raw, &len, &limits.parser, status) : HP_INCOMPLETE;
    if (r == HP_ERROR) {
      // len: what this call decoded before the framing failed. A body that
      // was already too large there is 413, as when the same bytes come in
      // pieces and the size check sees it first: the answer must not depend
      // on how the input was split (native/fuzz/fuzz_conn.cc).
      if (body_end - head_len + len > limits.max_body) *status = 413;
      else if (!*status) *status = 400;
      return Step::kReject;
    }
    if (len && body_end != raw) memmove(in + body_end, in + raw, len);
    body_end += len;
    if (body_end - head_len > limits.max_body) {
      *status = 413;
      return Step::kReject;
    }
    if (r >= 0) {
      // The bytes after the last chunk (a pipelined request) were moved to
      // follow the decoded data: bring them next to the body.
      memmove(in + body_end, in + raw + len, static_cast<size_t>(r));
      in_end = body_end + static_cast<size_t>(r);
      req_end = body_end;
      return Dispatch(limits, req, body_end - head_len);
    }
    in_end = raw = body_end;  // everything received is decoded
  }
  // RFC 9110 §10.1.1: the client waits for 100 Continue before the body;
  // only once, only for HTTP/1.1 (the parser clears it for 1.0).
  if (expect_continue && !continued) {
    continued = true;
    Queue(kContinue, sizeof kContinue - 1);
  }
  return Step::kNeedMore;
}

bool ConnCore::QueueHead(const ResponseHead& head, int64_t body_length, bool allow_keep_alive) {
  FramingInput fin;
  fin.minor_version = minor_version;
  fin.head_request = head_request;
  fin.keep_alive = keep_alive && allow_keep_alive;
  fin.body_length = body_length;
  if (out_off == out.size()) {
    out.clear();
    out_off = 0;
  }
  Framing fr;
  if (!FormatHead(head, fin, &out, &fr)) return false;
  keep_alive = fr.keep_alive;
  chunked_out = fr.chunked;
  send_body = fr.send_body;
  body_bytes = 0;
  return true;
}

void ConnCore::QueueError(int status) {
  std::string resp = ErrorResponse(status, StartsWithHead(in, in_end));
  Queue(resp.data(), resp.size());
  keep_alive = false;
}

size_t ConnCore::ChunkLine(size_t n, char line[24]) {
  body_bytes += n;
  return static_cast<size_t>(snprintf(line, 24, "%zx\r\n", n));
}

void ConnCore::Queue(const char* data, size_t len) {
  if (out_off == out.size()) {
    out.clear();
    out_off = 0;
  } else if (out_off > 65536 && out_off > out.size() / 2) {
    out.erase(0, out_off);  // do not let a slow reader's queue keep its written prefix
    out_off = 0;
  }
  out.append(data, len);
}

void ConnCore::Written(size_t n) {
  out_off += n;
  if (out_off >= out.size()) {
    out.clear();
    out_off = 0;
  }
}

void ConnCore::NextRequest() {
  size_t rest = in_end - req_end;
  if (rest && req_end) memmove(in, in + req_end, rest);
  in_end = rest;
  req_end = head_len = 0;
  body_kind = HP_BODY_NONE;
  state = ConnState::kHead;
  if (in_cap > kKeepInput && rest <= kInitialInput) {
    char* p = static_cast<char*>(realloc(in, kInitialInput));
    if (p) {
      in = p;
      in_cap = kInitialInput;
    }
  }
  // A large response's queue goes too (std::string keeps its capacity).
  if (out.capacity() > kKeepInput && pending() == 0) std::string().swap(out);
}

}  // namespace http
