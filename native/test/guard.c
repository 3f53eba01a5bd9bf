#include "guard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Returns the system page size. */
static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Returns the number of pages holding len bytes (at least one). */
static size_t data_pages(size_t len) {
  size_t ps = page_size();
  return len == 0 ? 1 : (len + ps - 1) / ps;
}

char *guard_copy(const void *data, size_t len) {
  size_t ps = page_size(), pages = data_pages(len);
  char *base = mmap(NULL, (pages + 1) * ps, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  if (mprotect(base + pages * ps, ps, PROT_NONE) != 0) {
    perror("mprotect");
    exit(2);
  }
  char *p = base + pages * ps - len; /* the data ends where the guard begins */
  if (len) memcpy(p, data, len);
  return p;
}

void guard_free(char *p, size_t len) {
  size_t ps = page_size(), pages = data_pages(len);
  char *base = (char *)(((uintptr_t)p + len) - pages * ps);
  munmap(base, (pages + 1) * ps);
}
