// The HTTP/1.1 connection core: one connection as bytes, with no I/O. Bytes
// in (ReadInto, Received), request events out (Advance: a whole request,
// head and body, or the status to reject it with), and bytes to send out
// (the response head and framing, 100 Continue, error responses, in the
// output queue). It decides what RFC 9112 leaves to a server: body framing
// (Content-Length, chunked), 100-continue (RFC 9110 §10.1.1), limits (413,
// 431), persistence and pipelining, error responses (no body to HEAD).
//
// Every native engine drives this one core: the poll loop non-blocking
// (engine/poll_conn.h), the fork child, the iterative server and the prefork
// workers blocking (engine/conn.h), and the parser binding (parseRequest).
// The engines only do the I/O: they read into ReadInto(), write what
// pending() holds, and time out. Knows nothing of sockets or Node-API;
// native/fuzz/fuzz_conn.cc feeds it arbitrary byte streams at arbitrary
// split points.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "http/parser.h"
#include "http/proxy_header.h"
#include "http/response.h"

namespace http {

// What the core enforces (the engines add their timeouts: engine/conn.h).
struct CoreLimits {
  hp_limits parser = {8192, 16384, 100};
  uint64_t max_body = 1ull << 30;  // bytes; over it: 413
  bool keep_alive = true;          // false: one request per connection (Connection: close)
  bool proxy_protocol = false;     // a PROXY protocol header (v1 or v2) comes first: its source is the client
};

// A parsed request; the pointers point into the core's input buffer and are
// valid until the buffer changes (the next Received, Advance or NextRequest).
struct Request {
  hp_request head;
  hp_header fields[128];
  const char* body = nullptr;
  size_t body_len = 0;
};

// Where a connection is. The core sets kHead, kBody and kApp; the response
// phases after kApp are the engine's to set (the poll loop uses them all).
enum class ConnState : uint8_t {
  kHead,    // reading a request head; idle while nothing is buffered
  kBody,    // reading the body of a parsed head
  kApp,     // a whole request was given out: the app has it
  kStream,  // the head is queued and the app writes the body
  kFile,    // the head is queued and the body is a file (sendfile(2))
  kFlush,   // the response is complete; queued output is still going out
  kLinger,  // all written, write side shut: input is discarded until EOF
};

enum class Step : uint8_t {
  kNeedMore,  // more input is needed (100 Continue may have been queued)
  kRequest,   // a whole request is in *req; the state is now kApp
  kReject,    // bad input: *status says the answer (QueueError), then close
  kDrop,      // not a valid PROXY header: close without an answer
};

struct ConnCore {
  ConnState state = ConnState::kHead;
  bool proxy_pending = false;  // a PROXY header must come first (CoreLimits::proxy_protocol; set by the engine)
  ProxyAddress proxied;        // from the PROXY header: host[0] is 0 when none, LOCAL or UNKNOWN

  // Input. The current request starts at in[0]; in[0..in_end) was received.
  char* in = nullptr;
  size_t in_cap = 0, in_end = 0;
  size_t head_len = 0;   // bytes of the parsed head
  size_t req_end = 0;    // end of the current request: the next one starts there
  int body_kind = HP_BODY_NONE;
  uint64_t content_length = 0;
  hp_chunked chunked;    // chunked decoder; decoded bytes in [head_len, body_end)
  size_t body_end = 0;   // chunked: end of the decoded body
  size_t raw = 0;        // chunked: first byte not decoded yet
  bool expect_continue = false;
  bool continued = false;

  // Framing of the current response.
  bool keep_alive = false, head_request = false, chunked_out = false, send_body = true;
  int minor_version = 1;
  uint64_t body_bytes = 0;  // body bytes of the current response (access logs)

  // Output not written yet: out[out_off..].
  std::string out;
  size_t out_off = 0;

  ConnCore() = default;
  ~ConnCore();
  ConnCore(const ConnCore&) = delete;
  ConnCore& operator=(const ConnCore&) = delete;

  // Returns where to read into (after making room), with *space bytes free;
  // nullptr when memory is short (the connection must close).
  char* ReadInto(size_t* space);
  // n bytes were read into what ReadInto returned.
  void Received(size_t n) { in_end += n; }
  // Appends data[0..len) as if it had been read (ReadInto, memcpy,
  // Received); returns false when memory is short.
  bool Feed(const char* data, size_t len);
  // Parses what was received as far as it goes (see Step). *req's pointers
  // are valid until the buffer changes.
  Step Advance(const CoreLimits& limits, Request* req, int* status);
  // Looks whether a whole request head has arrived (after the PROXY header,
  // when one is pending), changing nothing: kRequest when it has, kNeedMore,
  // kReject with *status, or kDrop (a bad PROXY header). The fork engine's
  // parent asks it before it forks (engine/head_wait.h); the child's core
  // then parses the same bytes from the start.
  Step PeekHead(const CoreLimits& limits, int* status) const;
  // Formats the response head into the output queue (FormatHead) and sets
  // this response's framing; returns false, queueing nothing, for an
  // invalid field. body_length < 0: the body streams. allow_keep_alive
  // false (the server stops) makes it the last response (Connection: close).
  bool QueueHead(const ResponseHead& head, int64_t body_length, bool allow_keep_alive);
  // Queues the error response for status (no body to a HEAD request, as far
  // as its bytes tell) and makes it the last one on the connection.
  void QueueError(int status);
  // The chunk-size line of an n-byte chunk of a chunked body ("1a2\r\n")
  // into line[0..24); returns its length. Each chunk ends with "\r\n", the
  // body with kLastChunk. Counts n as body bytes.
  size_t ChunkLine(size_t n, char line[24]);
  // Appends bytes to the output queue.
  void Queue(const char* data, size_t len);
  // Returns the number of queued output bytes not written yet, and where they start.
  size_t pending() const { return out.size() - out_off; }
  const char* pending_data() const { return out.data() + out_off; }
  // Marks n queued bytes written.
  void Written(size_t n);
  // The response is out: drops the request's bytes, keeps pipelined ones,
  // and returns to kHead.
  void NextRequest();
  // Frees the input buffer (a closed connection keeps only its struct).
  void FreeInput();

 private:
  bool Reserve(size_t cap);
  // Fills *req for the complete request (head re-parsed if the buffer moved); returns kRequest.
  Step Dispatch(const CoreLimits& limits, Request* req, size_t body_len);
  // Takes the PROXY header off the input; kNeedMore until it is whole, kDrop if invalid.
  Step ProxyStep();
  // Advances the body (Content-Length or chunked); returns what Advance does.
  Step BodyStep(const CoreLimits& limits, Request* req, int* status);
};

// The last-chunk and empty trailer section that end a chunked body (RFC 9112 §7.1).
constexpr char kLastChunk[] = "0\r\n\r\n";

}  // namespace http
