// The poll engine's event loop: one thread serves many connections over
// non-blocking sockets, multiplexed with engine::Poller (epoll, kqueue).
// It accepts, reads, parses (poll_conn.h), hands whole requests to the app
// through PollHandler, and writes the app's responses, buffering what the
// socket will not take yet. It never blocks: the owner calls RunOnce when
// fd() polls readable, RunTimers when NextDeadline has passed and
// RunPending while HasPendingWork. Knows nothing of Node-API or libuv.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <unordered_map>
#include <vector>

#include "engine/conn.h"
#include "engine/deadline_list.h"
#include "engine/poll_conn.h"
#include "engine/poller.h"
#include "http/response.h"
#include "posix/sys.h"

namespace engine {

// What the loop reports; called on the loop's thread, from RunOnce,
// RunTimers or RunPending only (never from inside Respond/Write/End/Close/
// Stop, so the app may call those from any of these callbacks).
class PollHandler {
 public:
  virtual ~PollHandler() = default;
  // A whole request arrived on connection id. req's pointers are valid
  // during the call only. keep_alive: the connection may persist after it.
  virtual void OnRequest(uint32_t id, const Request& req, bool keep_alive, const posix::SockAddr& peer, int listener) = 0;
  // Bad input was answered natively with status; the connection closes.
  virtual void OnRejected(int status, const posix::SockAddr& peer) = 0;
  // Output of id drained after Write returned 0, or id closed meanwhile:
  // the app may write again (Write then says which).
  virtual void OnDrain(uint32_t id) = 0;
  // Connection id, which had reached the app, is closed.
  virtual void OnClose(uint32_t id) = 0;
  // A syscall of the loop failed (accept: EMFILE...); the loop goes on.
  virtual void OnError(int neg_errno, const char* syscall) = 0;
  // Stop finished: no connection is left.
  virtual void OnStopped() = 0;
};

class PollLoop {
 public:
  PollLoop() = default;
  ~PollLoop();
  PollLoop(const PollLoop&) = delete;
  PollLoop& operator=(const PollLoop&) = delete;

  // Creates the poller and watches every listening descriptor of
  // listen_fds (made non-blocking, for good: see Start); returns 0, or
  // -errno with *failed naming the syscall.
  int Start(const std::vector<int>& listen_fds, const Limits& limits, PollHandler* handler, const char** failed);
  // Returns the poller's descriptor: readable while events are pending.
  int fd() const { return poller_.fd(); }
  // Handles the ready events (one batch, without waiting), then expired
  // deadlines and pending work.
  void RunOnce();
  // Handles expired deadlines, then pending work.
  void RunTimers();
  // Resumes connections whose next request was already buffered, frees
  // closed connections (telling the handler) and finishes a stop.
  void RunPending();
  // True when RunPending has work: call it soon, without waiting for I/O.
  bool HasPendingWork() const;
  // Returns the earliest deadline on the NowMs clock, or -1 when none.
  int64_t NextDeadline() const;

  // The app's side, for the request last handed out on connection id.
  // Respond queues and sends the head, and the whole body unless body_length
  // < 0 (then the body streams with Write/End). Returns the body bytes the
  // response carries (0 for HEAD, 204, 304, or a stream), -ENOTCONN when the
  // connection is gone, -EINVAL for an invalid field (nothing was sent: the
  // app may respond again), -EALREADY when not waiting for a response.
  int64_t Respond(uint32_t id, const http::ResponseHead& head, const char* body, int64_t body_length);
  // Like Respond, with a file as the whole body: *file (offset, left bytes,
  // the stat the head was built from) is taken over, and sent with
  // sendfile(2) after the head, at most kFileTurn bytes per turn of the
  // loop so one download does not hold up other connections. A file that
  // changed during the transfer closes the connection (file_send.h).
  // Returns the body bytes the response carries, -ENOTCONN, -EALREADY
  // (the file is closed), or -EINVAL (invalid field: nothing was sent and
  // the file is still the caller's).
  int64_t RespondFile(uint32_t id, const http::ResponseHead& head, FileSegment* file);
  // Sends part of a streamed body (chunk-framed when the framing says so).
  // Returns 1 (go on), 0 (output is above the high-water mark: wait for
  // OnDrain), -ENOTCONN (gone) or -EALREADY (no stream in progress).
  int Write(uint32_t id, const char* data, size_t len);
  // Ends a streamed body; returns its body bytes, -ENOTCONN or -EALREADY.
  int64_t End(uint32_t id);
  // Closes connection id now (an app that failed mid-response); returns 0 or -ENOTCONN.
  int Close(uint32_t id);
  // Stops accepting. Graceful: the connections already in the accept
  // queues are accepted first and served; idle connections get kStopIdleMs
  // (stop.h) for one more request, requests in progress finish (with
  // Connection: close), and OnStopped comes when none is left. Not
  // graceful: every connection closes now. refuse_new (the server's own
  // stop, not one worker's): the kernel queues no connection while the
  // queues are drained, and refuses new ones after (posix::StopQueueing,
  // posix::StopListening), for every process sharing the sockets.
  void Stop(bool graceful, bool refuse_new = false);

  // Closes the poller and restores the listening socket's flags. Call it
  // after the owner stopped watching fd(), once stopped (or never started).
  void Shutdown();

  // Returns the number of open connections.
  size_t connections() const { return conns_.size(); }
  // Returns the number of requests handed to the app so far.
  uint64_t requests() const { return requests_; }

 private:
  struct Piece {
    const char* data;
    size_t len;
  };
  // Returns the open connection with this id, or nullptr.
  PollConn* Find(uint32_t id) const;
  // Accepts a batch of pending connections of listeners_[listener]; returns
  // true if the batch was full (more may be waiting).
  bool Accept(int listener);
  // Watches (on) or stops watching (off) every listener; returns 0 or -errno.
  int Listen(bool on);
  // Returns the index in listeners_ a poller event's data names, or -1 for a connection's.
  int ListenerOf(const void* data) const;
  // Advances c's input side: parse, read while the kernel has bytes, hand out a request or reject.
  void Drive(PollConn* c);
  // One read(2) of c into p[0..space), EINTR retried: returns the bytes read,
  // 0 when the socket is empty (read_ready cleared), or -1 after closing c
  // (end of stream, an error, or p null: no room). A short read clears
  // read_ready too, unless the peer's FIN was seen.
  ssize_t ReadSome(PollConn* c, char* p, size_t space);
  // Discards a lingering connection's input; closes it at EOF.
  void Drain(PollConn* c);
  // Sends queued output after a writable edge; finishes the response or wakes the app.
  void OnWritable(PollConn* c);
  // Writes queued output then pieces, queueing the rest; returns 0 (all out), 1 (queued) or -1 (closed).
  int Send(PollConn* c, const Piece* pieces, int n);
  // Sends c's file as far as the socket takes it this turn (kFile).
  void PumpFile(PollConn* c);
  // The app finished the response: flush, then AfterResponse.
  void ResponseDone(PollConn* c);
  // The response is out: next request (keep-alive) or close.
  void AfterResponse(PollConn* c);
  // Queues an error response for bad input; the connection then closes.
  void Reject(PollConn* c, int status);
  // Closes now, or after draining the peer's input (kLinger) when it may still be sending.
  void CloseAfterResponse(PollConn* c);
  // Leaves the poller, closes the descriptor, and hands c to Sweep.
  void CloseConn(PollConn* c);
  // Queues c for Drive from RunPending.
  void Resume(PollConn* c);
  // Puts c in the idle or io deadline list its input state calls for.
  void ArmReadDeadline(PollConn* c, bool progress);
  // Handles the deadlines that have passed.
  void ExpireDeadlines();
  // Frees closed connections, telling the handler (OnDrain, OnClose).
  void Sweep();
  // Stops watching the listening socket for kAcceptPauseMs.
  void PauseAccept();

  Poller poller_;
  PollHandler* handler_ = nullptr;
  Limits limits_;
  std::vector<int> listeners_;  // listening descriptors; the poller's data for each is its slot's address
  bool listening_ = false;
  int64_t accept_resume_at_ = -1;  // accepting paused (EMFILE) until then
  bool stopping_ = false;
  bool stopped_ = false;
  bool started_ = false;
  int64_t now_ = 0;
  uint32_t next_id_ = 0;
  uint64_t requests_ = 0;

  std::unordered_map<uint32_t, PollConn*> conns_;
  std::vector<uint32_t> resume_;     // connections with a buffered next request
  std::vector<uint32_t> sending_;    // files that yielded their turn: go on in RunPending
  std::vector<PollConn*> graveyard_; // closed, freed by Sweep
  DeadlineList idle_;    // keep-alive: waiting for the first byte of a request
  DeadlineList io_;      // head, body and blocked output must progress in time
  DeadlineList linger_;  // closing: waiting for the peer's EOF
  DeadlineList drain_;   // a graceful stop: idle persistent connections, kStopIdleMs for one more request
  Request scratch_;      // the request being handed out
};

}  // namespace engine
