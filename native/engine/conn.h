// One HTTP/1.1 connection served with blocking I/O, for the fork children,
// the iterative server and the prefork workers' blocking paths: the
// connection core (http/conn_core.h) decides everything about the bytes;
// this class only waits for input (poll(2) with the head, body and
// keep-alive timeouts), reads it into the core, and writes what the core
// queued, with the response body beside it in one gather write.
// Knows nothing of Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "engine/file_send.h"
#include "http/conn_core.h"
#include "http/proxy_header.h"
#include "http/response.h"

namespace engine {

// The core's limits plus the engines' timeouts.
struct Limits : http::CoreLimits {
  int header_timeout_ms = 30000;    // whole head (and each body read) must arrive in time, else 408
  int keepalive_timeout_ms = 5000;  // idle wait for the next request on a persistent connection
};

using Request = http::Request;

enum class ReadResult {
  kRequest,   // *req holds a request
  kClosed,    // the peer closed, or stayed idle past the keep-alive timeout
  kRejected,  // bad input: an error response (status) was written; close now
};

class Connection {
 public:
  Connection(int fd, const Limits& limits);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  int fd() const { return fd_; }
  // Blocks until a whole request is read (*req's pointers are valid until
  // the next call). *status gets the error status for kRejected.
  ReadResult ReadRequest(Request* req, int* status);
  // Writes a response head, and the body when it is given whole (body_length
  // >= 0) in the same sendmsg(2); returns 0 or -errno. A streamed body
  // follows with WriteBody/End. -EINVAL: the app gave an invalid field.
  int WriteHead(const http::ResponseHead& head, const char* body, int64_t body_length);
  // Writes a response head whose body is the file segment *file (taking it
  // over: the file is closed on every outcome), then the file with
  // sendfile(2). Returns 0, -EINVAL (invalid field: nothing was sent, the
  // file is still open), -EPIPE-like -errno when the peer went away, or
  // -ESTALE when the file changed during the transfer (the connection must
  // close: keep_alive() is then false).
  int WriteFile(const http::ResponseHead& head, FileSegment* file);
  // Writes part of a streamed body (chunk-framed when the framing says so).
  int WriteBody(const char* data, size_t len);
  // Ends a streamed body (the last-chunk for chunked framing).
  int End();
  // True if another request may follow the current response.
  bool keep_alive() const { return core_.keep_alive; }
  // The client's address from the PROXY header (proxy_protocol), or nullptr
  // when there was none or it said LOCAL/UNKNOWN.
  const http::ProxyAddress* proxied() const { return core_.proxied.host[0] ? &core_.proxied : nullptr; }
  // Bytes of body written for the current response (for access logs).
  uint64_t body_bytes() const { return core_.body_bytes; }
  // Closes the descriptor now (also done by the destructor).
  void Close();

 private:
  // Waits up to timeout_ms for more bytes and gives them to the core;
  // returns the byte count, 0 at end of stream (or when a stop closes an
  // idle connection), -ETIMEDOUT, or -errno.
  long Fill(int timeout_ms);
  // Writes what the core queued, then extra[0..extra_len), in one gather
  // write where it can: 0 or -errno.
  int Flush(const char* extra = nullptr, size_t extra_len = 0);
  // Answers status (the core's error response), counts it: kRejected.
  ReadResult Reject(int status, int* out);
  // The response head is formatted: the watchdog and the counters hear of it.
  void Started(int status);

  int fd_;
  Limits limits_;
  http::ConnCore core_;
  bool dispatched_ = false;  // a request was given out: its bytes go at the next ReadRequest
};

}  // namespace engine
