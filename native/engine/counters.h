// The server's own counters, kept in memory shared by the master and every
// process it forks (a MAP_SHARED mapping survives fork(2)), so a fork
// child's or a worker's response counts where the master, and an observer,
// can read it. The observer (src/observe/counters.ts, /metrics) finds the
// region as the master's descriptor of "/memfd:forkserve-counters" and reads
// it through /proc/PID/fd/N; children close their copy of the descriptor
// (CloseInChild) and keep the mapping, so only the master shows it.
//
// Layout (host byte order, 8-byte slots; kLayoutVersion changes with it):
//   slot 0            magic kMagic ("FSCOUNT1")
//   slot 1            layout version
//   slots 2..7        responses by status class: [0] other, [1] 1xx .. [5] 5xx
//   slots 8..13       reaps by reason (Reap)
//   slot 14           requests answered 503 because they ran past --timeout
// Knows nothing of Node-API.
#pragma once
#include <stdint.h>

namespace engine {
namespace counters {

constexpr uint64_t kMagic = 0x31544e554f435346ull;  // "FSCOUNT1" read as little-endian bytes
constexpr uint64_t kLayoutVersion = 1;
constexpr int kStatusSlot = 2, kReapSlot = 8, kTimeoutSlot = 14, kSlots = 15;

// Why a worker or fork child ended, as the master tells it (src/engines/reap-reason.ts).
enum Reap {
  kExited = 0,   // exited 0
  kFailed = 1,   // exited with another status
  kTimeout = 2,  // the request watchdog (exit 124) or the master's --timeout kill
  kMemory = 3,   // --max-worker-rss: recycled for its resident set
  kOom = 4,      // the kernel's OOM killer (the cgroup's memory.events)
  kSignal = 5,   // killed by another signal
  kReapReasons = 6,
};

// The master, once: creates the shared region (memfd_create(2) or shm_open(3),
// mmap(2) MAP_SHARED). Returns its descriptor (close-on-exec), or -errno;
// counting stays off then. A second call returns the same descriptor.
int Create();
// In a forked process: closes the inherited descriptor, keeps counting into the mapping.
void CloseInChild();
// Counts a response head sent with this status (100..999). Async-signal-safe.
void Response(int status);
// Counts a reaped process.
void Reaped(Reap why);
// Counts a request answered 503 because it ran past --timeout. Async-signal-safe.
void Timeout();

}  // namespace counters
}  // namespace engine
