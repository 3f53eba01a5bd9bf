// One connection of the poll engine, as bytes: its input buffer and request
// parse state (head, Content-Length or chunked body, 100-continue), the
// framing of its current response, and its queue of output not yet written.
// No syscalls: the loop (poll_loop.cc) reads into it, asks it to advance,
// and writes what it queued. Knows nothing of the poller or Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <string>

#include "engine/conn.h"
#include "engine/deadline_list.h"
#include "engine/file_send.h"
#include "http/parser.h"
#include "http/response.h"
#include "posix/sys.h"

namespace engine {

enum class ConnState : uint8_t {
  kHead,    // reading a request head; idle while nothing is buffered
  kBody,    // reading the body of a parsed head
  kApp,     // the request is with the app, which has not answered yet
  kStream,  // the head is queued and the app writes the body
  kFile,    // the head is queued and the body is a file, sent with sendfile(2)
  kFlush,   // the response is complete; queued output is still going out
  kLinger,  // all written, write side shut: input is discarded until EOF
};

enum class Step : uint8_t {
  kNeedMore,  // more input is needed (100 Continue may have been queued)
  kRequest,   // a whole request is in *req; the connection is now kApp
  kReject,    // bad input: answer *status and close
  kDrop,      // not a valid PROXY header: close without an answer
};

struct PollConn : DeadlineNode {
  int fd = -1;
  uint32_t id = 0;
  ConnState state = ConnState::kHead;
  bool closed = false;         // descriptor closed; the struct waits to be freed
  bool read_ready = false;     // the kernel may hold unread input (an edge came, no EAGAIN or short read since)
  bool eof_seen = false;       // the peer shut down its side: read until read() says 0
  bool write_blocked = false;  // a write hit EAGAIN: output waits for a writable edge
  bool want_drain = false;     // the app was told to wait: tell it when output drains
  bool dispatched = false;     // a request reached the app, which hears of the close
  bool queued = false;         // in the loop's resume queue
  bool must_linger = false;    // the peer may still be sending: shut down and drain before close
  bool proxy_pending = false;  // a PROXY protocol header must come first (Limits::proxy_protocol)
  posix::SockAddr peer;
  uint8_t listener = 0;        // the index of the listening socket it came from (SERVER_NAME, SERVER_PORT)

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

  // Output not written yet: out[out_off..], then the file (kFile).
  std::string out;
  size_t out_off = 0;
  FileSegment file;

  PollConn() = default;
  ~PollConn();
  PollConn(const PollConn&) = delete;
  PollConn& operator=(const PollConn&) = delete;

  // Returns the number of queued output bytes not written yet.
  size_t pending() const { return out.size() - out_off; }
  // Returns where to read into (after making room), with *space bytes free;
  // nullptr when memory is short.
  char* ReadInto(size_t* space);
  // Parses what was received as far as it goes (see Step). *req is the
  // loop's scratch; its pointers are valid until the buffer changes.
  Step Advance(const Limits& limits, Request* req, int* status);
  // Formats the response head into the output queue (FormatHead) and sets
  // this response's framing; returns false, queueing nothing, for an
  // invalid field. body_length < 0: the body streams.
  bool QueueHead(const http::ResponseHead& head, int64_t body_length, bool allow_keep_alive);
  // Appends bytes to the output queue.
  void Queue(const char* data, size_t len);
  // Marks n queued bytes written.
  void Written(size_t n);
  // The response is out: drops the request's bytes, keeps pipelined ones,
  // and returns to kHead.
  void NextRequest();
  // Frees the input buffer (a closed connection keeps only its struct).
  void FreeInput();

 private:
  // Grows the input buffer to cap bytes; returns false when memory is short.
  bool Reserve(size_t cap);
  // Fills *req for the complete request (head re-parsed if the buffer moved); returns kRequest.
  Step Dispatch(const Limits& limits, Request* req, size_t body_len);
  // Takes the PROXY header off the input (setting peer); kNeedMore until it is whole, kDrop if invalid.
  Step ProxyStep();
  // Advances the body (Content-Length or chunked); returns what Advance does.
  Step BodyStep(const Limits& limits, Request* req, int* status);
};

}  // namespace engine
