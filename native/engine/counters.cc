#include "engine/counters.h"

#include "posix/sys.h"

namespace engine {
namespace counters {

static uint64_t* g_slots = nullptr;  // the shared region, or null: not counting
static int g_fd = -1;

int Create() {
  if (g_slots) return g_fd;
  int fd = -1;
  void* p = posix::SharedMemory("forkserve-counters", kSlots * sizeof(uint64_t), &fd);
  if (!p) return fd;  // -errno
  g_slots = static_cast<uint64_t*>(p);
  g_fd = fd;
  __atomic_store_n(&g_slots[1], kLayoutVersion, __ATOMIC_RELAXED);
  __atomic_store_n(&g_slots[0], kMagic, __ATOMIC_RELEASE);
  return fd;
}

void CloseInChild() {
  if (g_fd >= 0) posix::Close(g_fd);
  g_fd = -1;
}

static void Add(int slot) {
  if (g_slots) __atomic_add_fetch(&g_slots[slot], 1, __ATOMIC_RELAXED);
}

void Response(int status) { Add(kStatusSlot + (status >= 100 && status < 600 ? status / 100 : 0)); }

void Reaped(Reap why) {
  if (why >= 0 && why < kReapReasons) Add(kReapSlot + why);
}

void Timeout() { Add(kTimeoutSlot); }

}  // namespace counters
}  // namespace engine
