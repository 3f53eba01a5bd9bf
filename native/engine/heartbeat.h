// Worker liveness for the prefork master, in shared memory: each worker
// slot holds its pid, the time of its last heartbeat and its request count.
// gunicorn uses a temporary file's ctime for the same purpose; an anonymous
// MAP_SHARED mapping made before fork(2) costs no syscall per beat.
#pragma once
#include <stdint.h>
#include <sys/types.h>

namespace engine {

struct WorkerSlot {
  volatile pid_t pid;
  volatile int64_t heartbeat_ms;  // posix::MonotonicMs()
  volatile uint64_t requests;
};

// Maps count zeroed slots shared with future children; returns nullptr on failure.
WorkerSlot* MapSlots(int count);
// Unmaps what MapSlots returned.
void UnmapSlots(WorkerSlot* slots, int count);
// Records that the worker in slot is alive now.
void Beat(WorkerSlot* slot);

}  // namespace engine
