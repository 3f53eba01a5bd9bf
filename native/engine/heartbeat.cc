#include "engine/heartbeat.h"

#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "posix/sys.h"

namespace engine {

WorkerSlot* MapSlots(int count) {
  void* p = mmap(nullptr, sizeof(WorkerSlot) * count, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  memset(p, 0, sizeof(WorkerSlot) * count);
  return static_cast<WorkerSlot*>(p);
}

void UnmapSlots(WorkerSlot* slots, int count) {
  if (slots) munmap(slots, sizeof(WorkerSlot) * count);
}

void Beat(WorkerSlot* slot) {
  if (slot) slot->heartbeat_ms = posix::MonotonicMs();
}

}  // namespace engine
