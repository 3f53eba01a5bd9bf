#include "node/heap_advise.h"

#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace nodefork {

// Reads all of /proc/self/maps into a growing buffer; returns its length or -errno.
static long ReadMaps(char** buf, size_t* cap) {
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = 0;
  for (;;) {
    if (len + 4096 > *cap) {
      size_t ncap = *cap ? *cap * 2 : 256 * 1024;
      char* nbuf = static_cast<char*>(realloc(*buf, ncap));
      if (!nbuf) { close(fd); return -ENOMEM; }
      *buf = nbuf;
      *cap = ncap;
    }
    ssize_t n = read(fd, *buf + len, *cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) { int e = errno; close(fd); return -e; }
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  close(fd);
  (*buf)[len] = '\0';
  return static_cast<long>(len);
}

// A maps line is "start-end perms offset dev inode [path]". Returns true for
// private anonymous memory: 'p' permission, inode 0 and no [stack]/[vvar]/[vdso]
// style pseudo path (those are the kernel's, not V8's).
static bool ParseLine(const char* line, unsigned long* start, unsigned long* end) {
  char perms[5] = {0};
  unsigned long offset, inode;
  unsigned dev_major, dev_minor;
  int path_at = 0;
  if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", start, end, perms, &offset, &dev_major,
             &dev_minor, &inode, &path_at) < 7)
    return false;
  if (perms[3] != 'p' || inode != 0) return false;
  const char* path = line + path_at;
  return *path != '[' || strncmp(path, "[heap]", 6) == 0 || strncmp(path, "[anon", 5) == 0;
}

int AdviseHeapForFork() {
  static char* buf = nullptr;  // kept between forks: the parent forks often
  static size_t cap = 0;
  long len = ReadMaps(&buf, &cap);
  if (len < 0) return static_cast<int>(len);
  int calls = 0;
  // Adjacent mappings are advised with one call: fewer syscalls per fork.
  unsigned long run_start = 0, run_end = 0;
  for (char* line = buf; line && *line;) {
    char* nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    unsigned long start, end;
    if (ParseLine(line, &start, &end)) {
      if (run_end == start) {
        run_end = end;
      } else {
        if (run_end > run_start) {
          madvise(reinterpret_cast<void*>(run_start), run_end - run_start, MADV_DOFORK);
          calls++;
        }
        run_start = start;
        run_end = end;
      }
    }
    line = nl ? nl + 1 : nullptr;
  }
  if (run_end > run_start) {
    madvise(reinterpret_cast<void*>(run_start), run_end - run_start, MADV_DOFORK);
    calls++;
  }
  return calls;
}

}  // namespace nodefork

#else

namespace nodefork {
// macOS and the BSDs have no MADV_DONTFORK: the whole heap is inherited.
int AdviseHeapForFork() { return 0; }
}  // namespace nodefork

#endif
