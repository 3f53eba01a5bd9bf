#include "posix/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

namespace posix {

static FileKind KindOf(mode_t mode) {
  if (S_ISREG(mode)) return FileKind::kRegular;
  if (S_ISDIR(mode)) return FileKind::kDirectory;
  return FileKind::kOther;
}

int Fstat(int fd, FileStat* out) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  out->kind = KindOf(st.st_mode);
  out->size = static_cast<uint64_t>(st.st_size);
#ifdef __APPLE__
  out->mtime_sec = st.st_mtimespec.tv_sec;
  out->mtime_nsec = st.st_mtimespec.tv_nsec;
#else
  out->mtime_sec = st.st_mtim.tv_sec;
  out->mtime_nsec = st.st_mtim.tv_nsec;
#endif
  out->ino = static_cast<uint64_t>(st.st_ino);
  out->dev = static_cast<uint64_t>(st.st_dev);
  return 0;
}

bool SameVersion(const FileStat& a, const FileStat& b) {
  return a.ino == b.ino && a.dev == b.dev && a.size == b.size && a.mtime_sec == b.mtime_sec && a.mtime_nsec == b.mtime_nsec;
}

int OpenBeneath(int dir_fd, const char* path, size_t path_len, bool follow_symlinks) {
  const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow_symlinks ? 0 : O_NOFOLLOW);
  size_t i = 0;
  while (i < path_len && path[i] == '/') i++;
  int fd = -1;        // the directory opened last; -1: dir_fd itself
  char name[NAME_MAX + 1];
  for (;;) {
    size_t j = i;
    while (j < path_len && path[j] != '/') j++;
    size_t len = j - i;
    int err = 0;
    if (len == 0 && j < path_len) err = -ENOENT;                       // "a//b"
    else if (len > NAME_MAX) err = -ENAMETOOLONG;
    else if (len == 2 && path[i] == '.' && path[i + 1] == '.') err = -EXDEV;
    else if (memchr(path + i, '\0', len)) err = -ENOENT;
    if (err) {
      if (fd >= 0) close(fd);
      return err;
    }
    int next;
    if (len == 0 || (len == 1 && path[i] == '.')) {
      // The root itself ("" or "/"), or "." (the same directory): reopen it.
      next = openat(fd >= 0 ? fd : dir_fd, ".", flags);
    } else {
      memcpy(name, path + i, len);
      name[len] = '\0';
      // Intermediate components must be directories.
      next = openat(fd >= 0 ? fd : dir_fd, name, flags | (j < path_len ? O_DIRECTORY : 0));
    }
    int saved = errno;
    // O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR: say what refused it.
    if (next < 0 && saved == ENOTDIR && !follow_symlinks && len > 0) {
      struct stat st;
      if (fstatat(fd >= 0 ? fd : dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) saved = ELOOP;
    }
    if (fd >= 0) close(fd);
    if (next < 0) return -saved;
    fd = next;
    if (j >= path_len) return fd;
    i = j + 1;
    if (i == path_len) return fd;  // a trailing '/': the directory itself
  }
}

int ListDir(int fd, std::vector<DirEntry>* out) {
  int dup_fd = openat(fd, ".", O_RDONLY | O_CLOEXEC | O_DIRECTORY);
  if (dup_fd < 0) return -errno;
  DIR* d = fdopendir(dup_fd);
  if (!d) {
    int e = errno;
    close(dup_fd);
    return -e;
  }
  out->clear();
  errno = 0;
  while (struct dirent* e = readdir(d)) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    FileKind kind = FileKind::kOther;
    bool known = false;
#ifdef DT_UNKNOWN
    if (e->d_type == DT_REG) kind = FileKind::kRegular, known = true;
    else if (e->d_type == DT_DIR) kind = FileKind::kDirectory, known = true;
    else if (e->d_type != DT_UNKNOWN) known = true;
#endif
    if (!known) {
      struct stat st;
      if (fstatat(dup_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) kind = KindOf(st.st_mode);
    }
    out->push_back({e->d_name, kind});
  }
  int err = errno;
  closedir(d);  // closes dup_fd
  return err ? -err : 0;
}

ssize_t SendFile(int out_fd, int in_fd, uint64_t* offset, size_t count) {
#ifdef __linux__
  off_t off = static_cast<off_t>(*offset);
  ssize_t n = sendfile(out_fd, in_fd, &off, count);
  if (n < 0) return -errno;
  *offset = static_cast<uint64_t>(off);
  return n;
#elif defined(__APPLE__)
  off_t len = static_cast<off_t>(count);
  int r = sendfile(in_fd, out_fd, static_cast<off_t>(*offset), &len, nullptr, 0);
  // macOS reports the bytes sent in len, also when it fails with EAGAIN or EINTR.
  if (r < 0 && len == 0) return -errno;
  *offset += static_cast<uint64_t>(len);
  return len;
#else
  (void)out_fd; (void)in_fd; (void)offset; (void)count;
  return -ENOSYS;
#endif
}

}  // namespace posix
