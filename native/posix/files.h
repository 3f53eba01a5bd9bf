// Files for serving: open a path beneath a directory without leaving it,
// fstat(2) what was opened, list a directory, and sendfile(2) to a socket.
// Same conventions as sys.h: results >= 0 or -errno, no EINTR retry, no
// Node-API.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace posix {

enum class FileKind : uint8_t { kRegular, kDirectory, kOther };

// What fstat(2) says of an open file, as far as serving needs: enough to
// frame a response (size), validate it (mtime, inode) and notice that it
// changed while being sent.
struct FileStat {
  FileKind kind = FileKind::kOther;
  uint64_t size = 0;       // bytes
  int64_t mtime_sec = 0;   // st_mtim (st_mtimespec on macOS)
  int64_t mtime_nsec = 0;
  uint64_t ino = 0;
  uint64_t dev = 0;
};

// fstat(2): returns 0 and fills *out, or -errno.
int Fstat(int fd, FileStat* out);

// True when two stats describe the same version of the same file: same
// inode, size and modification time.
bool SameVersion(const FileStat& a, const FileStat& b);

// Opens path (components separated by '/', leading '/' ignored) beneath
// the directory dir_fd, one component at a time with openat(2), read-only,
// close-on-exec and non-blocking (so a FIFO cannot block the open). Never
// leaves dir_fd's tree by name: a ".." component gives -EXDEV (openat2(2)'s
// RESOLVE_BENEATH errno). Unless follow_symlinks, every component is opened
// with O_NOFOLLOW, so a symlink anywhere gives -ELOOP. An empty component
// (a "//") gives -ENOENT. Also -ENOENT, -ENOTDIR, -EACCES, -ENAMETOOLONG as
// openat(2). Returns the descriptor of the last component (a file or a
// directory; the caller fstats it).
int OpenBeneath(int dir_fd, const char* path, size_t path_len, bool follow_symlinks);

struct DirEntry {
  std::string name;
  FileKind kind;
};

// Lists the directory open on fd (which stays open and unmoved: a duplicate
// is read), without "." and "..", in readdir(3) order; entries whose kind
// the directory does not record are lstat'ed (fstatat, AT_SYMLINK_NOFOLLOW;
// a symlink is kOther). Returns 0 or -errno.
int ListDir(int fd, std::vector<DirEntry>* out);

// sendfile(2): copies up to count bytes of in_fd from *offset to the socket
// out_fd, advancing *offset. Returns the bytes sent (0 at the end of the
// file), or -errno (-EAGAIN on a full non-blocking socket). Linux's
// sendfile(2), or macOS's sendfile(2) with its argument order.
ssize_t SendFile(int out_fd, int in_fd, uint64_t* offset, size_t count);

}  // namespace posix
