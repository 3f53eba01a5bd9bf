// The fork engine's parent, waiting for request heads before it forks
// (--fork-after head): a connection costs a descriptor and a small buffer
// until its whole request head has arrived, not a 0.5 MiB child, so a
// slowloris client (half a head, then silence) cannot make the server fork.
// The head is read non-blocking into the connection core
// (http/conn_core.h, PeekHead), with --headers-timeout for the whole head
// (408, answered here); a head the core rejects is answered here too. A
// complete one is handed to the child with the bytes read so far
// (TakeInheritedInput), which parses them from the start.
// Knows nothing of Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include <deque>
#include <string>
#include <unordered_map>

#include "engine/conn.h"
#include "engine/deadline_list.h"
#include "engine/poller.h"
#include "http/conn_core.h"
#include "posix/sys.h"

namespace engine {

struct WaitingConn : DeadlineNode {
  int fd = -1;
  posix::SockAddr peer;
  int listener = -1;
  http::ConnCore core;
};

class HeadWait {
 public:
  HeadWait() = default;
  ~HeadWait();
  HeadWait(const HeadWait&) = delete;
  HeadWait& operator=(const HeadWait&) = delete;

  // Creates the poller; returns 0 or -errno.
  int Open(const Limits& limits);
  // The poller's descriptor: readable when a waiting connection has news.
  int fd() const { return poller_.fd(); }
  // Takes a connection just accepted (made non-blocking here) and reads
  // what has come. It then waits, is ready (Ready()), or was answered or
  // closed here.
  void Take(int fd, const posix::SockAddr& peer, int listener);
  // Reads what the poller reports and expires heads past the timeout
  // (408). Call when fd() is readable or NextTimeoutMs() has passed.
  void Run();
  // Milliseconds until the next head deadline, -1 when none waits.
  int NextTimeoutMs() const;
  // Connections whose head is complete, oldest first; the caller forks for
  // each and then calls Close (parent: the child has its own copy) or Adopt (child).
  bool HasReady() const { return !ready_.empty(); }
  WaitingConn* PopReady();
  // Closes conn's descriptor and frees it: the parent's copy after the
  // fork, or a connection given up (answered, gone, too slow).
  void Close(WaitingConn* conn);
  // Child, after the fork: keeps conn's bytes for the Connection on its
  // descriptor (TakeInheritedInput), and closes every other waiting
  // descriptor and the poller (they are the parent's), without touching the
  // parent's registrations.
  void Adopt(WaitingConn* conn);
  // Closes every waiting connection (a stop): heads not complete get no answer.
  void CloseAll();
  // Connections waiting for their head or ready, in all.
  size_t size() const { return conns_.size(); }

 private:
  // Reads until EAGAIN and looks at the head: ready, still waiting, or
  // answered and closed.
  void Read(WaitingConn* c);
  void Answer(WaitingConn* c, int status);

  Poller poller_;
  Limits limits_;
  DeadlineList heads_;
  std::unordered_map<int, WaitingConn*> conns_;  // by descriptor
  std::deque<WaitingConn*> ready_;
};

// The bytes the fork parent read from fd before it forked this child
// (HeadWait::Adopt), taken once: moved into *core, or into *out (for
// node:http, which reads the socket itself). False when there are none.
bool TakeInheritedInput(int fd, http::ConnCore* core);
bool TakeInheritedInput(int fd, std::string* out);

}  // namespace engine
