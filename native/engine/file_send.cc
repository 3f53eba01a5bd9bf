#include "engine/file_send.h"

#include <errno.h>
#include <unistd.h>

namespace engine {

void FileSegment::Close() {
  if (fd >= 0) close(fd);
  fd = -1;
}

FileStep SendFileSome(int sock, FileSegment* seg, uint64_t max) {
  uint64_t budget = max;
  while (seg->left > 0) {
    if (seg->left == 1 && !seg->checked) {
      posix::FileStat now;
      if (posix::Fstat(seg->fd, &now) < 0 || !posix::SameVersion(now, seg->version)) {
        seg->Close();
        return FileStep::kChanged;
      }
      seg->checked = true;
    }
    if (budget == 0) return FileStep::kYield;
    uint64_t want = seg->left - (seg->checked ? 0 : 1);  // hold back the last byte
    if (want > budget) want = budget;
    if (want > (1u << 30)) want = 1u << 30;
    ssize_t n = posix::SendFile(sock, seg->fd, &seg->offset, static_cast<size_t>(want));
    if (n == -EINTR) continue;
    if (n == -EAGAIN || n == -EWOULDBLOCK) return FileStep::kBlocked;
    if (n < 0) {
      seg->Close();
      return FileStep::kFailed;
    }
    if (n == 0) {  // end of file before the announced length: truncated
      seg->Close();
      return FileStep::kChanged;
    }
    seg->left -= static_cast<uint64_t>(n);
    budget -= static_cast<uint64_t>(n);
  }
  seg->Close();
  return FileStep::kDone;
}

}  // namespace engine
