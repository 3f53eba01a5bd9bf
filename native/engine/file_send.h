// A response body that is a file: the bytes go from the page cache to the
// socket with sendfile(2) and never pass through user space. Shared by the
// blocking connection (conn.cc) and the poll loop (poll_loop.cc), which
// differ only in what they do with kBlocked. Knows nothing of Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "posix/files.h"

namespace engine {

// send(2) flag for a response head a file follows: the kernel holds the head
// for the file's first bytes, so a small file leaves in one segment with it.
#ifdef MSG_MORE
constexpr int kMsgMore = MSG_MORE;
#else
constexpr int kMsgMore = 0;
#endif

struct FileSegment {
  int fd = -1;              // owned: closed by Close()
  uint64_t offset = 0;      // next byte to send
  uint64_t left = 0;        // bytes still to send
  posix::FileStat version;  // what the response head was built from
  bool checked = false;     // the file was found unchanged before its last byte

  bool active() const { return fd >= 0; }
  // Closes the file (idempotent).
  void Close();
};

enum class FileStep : uint8_t {
  kDone,     // every byte is out; the file is closed
  kBlocked,  // the socket is full (EAGAIN): wait until it is writable
  kYield,    // max bytes went out: let other connections run, then go on
  kChanged,  // the file was truncated or modified: close the connection
  kFailed,   // the socket failed (EPIPE, ECONNRESET): close the connection
};

// Sends from seg to the socket sock, at most max bytes in this call. The
// last byte is held back until fstat(2) finds the file as the head
// described it (same inode, size and mtime): a file changed or truncated
// during the transfer ends with the connection closed short of the
// announced Content-Length, never with bytes of another version under the
// old length. EINTR is retried. On every outcome but kBlocked and kYield
// the file is closed.
FileStep SendFileSome(int sock, FileSegment* seg, uint64_t max);

}  // namespace engine
