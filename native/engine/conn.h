// One HTTP/1.1 connection served with blocking I/O: read a whole request
// (head and body) with the parser, write a response with the writer. Used
// by the fork children, the iterative server and the prefork workers.
// Knows nothing of Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "engine/file_send.h"
#include "http/parser.h"
#include "http/proxy_header.h"
#include "http/response.h"

namespace engine {

struct Limits {
  hp_limits parser = {8192, 16384, 100};
  uint64_t max_body = 1ull << 30;      // bytes; over it: 413
  int header_timeout_ms = 30000;       // whole head (and each body read) must arrive in time, else 408
  int keepalive_timeout_ms = 5000;     // idle wait for the next request on a persistent connection
  bool keep_alive = true;              // false: one request per connection (Connection: close)
  bool proxy_protocol = false;         // a PROXY protocol header (v1 or v2) comes first: its source is the peer
};

// A parsed request; the pointers are valid until the next ReadRequest.
struct Request {
  hp_request head;
  hp_header fields[128];
  const char* body = nullptr;
  size_t body_len = 0;
};

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
  // Blocks until a whole request is read. *status gets the error status for kRejected.
  ReadResult ReadRequest(Request* req, int* status);
  // Writes a response head, and the body when it is given whole (body_length
  // >= 0); returns 0 or -errno. A streamed body follows with WriteBody/End.
  // -EINVAL: the app gave an invalid field.
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
  bool keep_alive() const { return keep_alive_; }
  // The client's address from the PROXY header (proxy_protocol), or nullptr
  // when there was none or it said LOCAL/UNKNOWN.
  const http::ProxyAddress* proxied() const { return proxied_.host[0] ? &proxied_ : nullptr; }
  // Bytes of body written for the current response (for access logs).
  uint64_t body_bytes() const { return body_bytes_; }
  // Closes the descriptor now (also done by the destructor).
  void Close();

 private:
  // Waits up to timeout_ms for more bytes and appends them; returns the byte
  // count, 0 at end of stream, -ETIMEDOUT, or -errno.
  long Fill(int timeout_ms);
  void Reserve(size_t need);
  ReadResult Reject(int status, int* out);
  ReadResult ReadLengthBody(size_t head_len, uint64_t length, Request* req, int* status);
  ReadResult ReadChunkedBody(size_t head_len, Request* req, int* status);
  void Continue100(const Request* req);
  // Formats the response head into *out and takes this response's framing
  // (keep-alive, chunked, body or none); false for an invalid field.
  bool BeginResponse(const http::ResponseHead& head, int64_t body_length, std::string* out);
  // Reads the PROXY header (proxy_protocol) before the first request; false
  // when it is invalid, late or cut short: close without an answer.
  bool ReadProxyHeader();

  int fd_;
  Limits limits_;
  std::vector<char> buf_;
  size_t start_ = 0;  // first byte of the current request
  size_t end_ = 0;    // end of received bytes
  bool keep_alive_ = false;
  bool head_request_ = false;
  int minor_version_ = 1;
  bool chunked_out_ = false;
  bool send_body_ = true;
  uint64_t body_bytes_ = 0;
  bool proxy_pending_ = false;
  http::ProxyAddress proxied_;
};

}  // namespace engine
