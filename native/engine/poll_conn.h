// One connection of the poll engine: the HTTP/1.1 connection core
// (http/conn_core.h: input, request parsing, response framing, output
// queue) plus what the poll loop keeps of it: the descriptor, the edge and
// write state, the peer, and a file being sent. No syscalls here: the loop
// (poll_loop.cc) reads into the core, asks it to advance, and writes what
// it queued. Knows nothing of the poller or Node-API.
#pragma once
#include <stdint.h>

#include "engine/conn.h"
#include "engine/deadline_list.h"
#include "engine/file_send.h"
#include "http/conn_core.h"
#include "posix/sys.h"

namespace engine {

using http::ConnState;
using http::Step;

struct PollConn : DeadlineNode, http::ConnCore {
  int fd = -1;
  uint32_t id = 0;
  bool closed = false;         // descriptor closed; the struct waits to be freed
  bool read_ready = false;     // the kernel may hold unread input (an edge came, no EAGAIN or short read since)
  bool eof_seen = false;       // the peer shut down its side: read until read() says 0
  bool write_blocked = false;  // a write hit EAGAIN: output waits for a writable edge
  bool want_drain = false;     // the app was told to wait: tell it when output drains
  bool dispatched = false;     // a request reached the app, which hears of the close
  bool queued = false;         // in the loop's resume queue
  bool must_linger = false;    // the peer may still be sending: shut down and drain before close
  posix::SockAddr peer;
  uint8_t listener = 0;        // the index of the listening socket it came from (SERVER_NAME, SERVER_PORT)
  FileSegment file;            // kFile: the body, sent after the queued output

  PollConn() = default;
  ~PollConn() { file.Close(); }
  PollConn(const PollConn&) = delete;
  PollConn& operator=(const PollConn&) = delete;
};

}  // namespace engine
