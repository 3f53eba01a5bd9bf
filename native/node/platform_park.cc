// Why: fork(2) copies only the calling thread. Node's platform threads sleep
// in pthread_cond_wait() on the condition variable of the platform's task
// queue; in the child that variable still counts them as waiters, and glibc's
// pthread_cond_signal() then waits for those waiters to leave their group,
// which they never do. The child's first few background posts (a
// mark-compact posts one even with --single-threaded) then hang it in
// futex_wait (docs/soak.md has the stacks, docs/fork-in-node.md §2 the
// design). Parking the threads in our own task, blocked in read(2) on a
// pipe, makes them leave the platform's condition variable (and its mutex)
// before fork(): the child inherits a queue with no waiters and no lock
// held, and its posts return at once. The posted tasks never run in the
// child (it has no worker threads); with --single-threaded V8 never waits
// for them.
#include "node/platform_park.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <memory>

// This file uses Node's C++ embedder API, not Node-API: node_version.h
// defines the runtime's NAPI_VERSION, which would clash with ours.
#undef NAPI_VERSION
#include <node.h>
#include <v8-platform.h>
#include <v8.h>

namespace nodefork {
namespace {

constexpr int kParkTimeoutMs = 1000;  // a worker busy longer than this is forked unparked
// NumberOfWorkerThreads() may count a thread that runs no tasks (Node 20
// counts its delayed-task scheduler), so the first fork learns the number of
// threads that actually take a task: those that report within this quiet
// period after the last one did.
constexpr int kCalibrateQuietMs = 200;

v8::Platform* g_platform = nullptr;
int g_arrive[2] = {-1, -1};   // worker -> forking thread: the round it parked in
int g_release[2] = {-1, -1};  // forking thread -> workers: one byte per posted task
uint32_t g_round = 0;
int g_posted = 0;             // tasks posted this round, each owed one release byte
int g_workers = -1;           // threads that take tasks; -1 until the first fork measures it
bool g_child = false;
bool g_held = false;          // HoldParked(): ParkBeforeFork/ReleaseAfterFork leave the threads parked
bool g_held_all = false;      // while held: whether every thread parked
unsigned long g_parked = 0, g_unparked = 0;

ssize_t WriteFully(int fd, const void* p, size_t n) {
  ssize_t r;
  do r = write(fd, p, n); while (r < 0 && errno == EINTR);
  return r;
}

class ParkTask : public v8::Task {
 public:
  explicit ParkTask(uint32_t round) : round_(round) {}
  void Run() override {
    WriteFully(g_arrive[1], &round_, sizeof round_);  // < PIPE_BUF: atomic
    char b;
    while (read(g_release[0], &b, 1) < 0 && errno == EINTR) {}
  }

 private:
  uint32_t round_;
};

long NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

// Waits until `want` tasks of this round report in, or the timeout; with
// quiet_ms > 0 it also stops once no task reported for that long. Returns
// how many reported.
int AwaitArrivals(int want, int quiet_ms) {
  long deadline = NowMs() + kParkTimeoutMs;
  long last = NowMs();
  int got = 0;
  while (got < want) {
    long now = NowMs();
    long left = deadline - now;
    if (quiet_ms > 0 && got > 0 && last + quiet_ms - now < left) left = last + quiet_ms - now;
    if (left <= 0) break;
    pollfd p = {g_arrive[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    uint32_t rounds[64];
    ssize_t n = read(g_arrive[0], rounds, sizeof rounds);
    if (n < 0 && errno != EINTR && errno != EAGAIN) break;
    for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(uint32_t)); i++) {
      if (rounds[i] != g_round) continue;  // a late task of an earlier round is not this round's
      got++;
      last = NowMs();
    }
  }
  return got;
}

// Posts one parking task per platform thread and waits for them. Returns
// false if there was nothing to park (no platform, or a forked child), else
// true, with *all_parked saying whether every thread reported in.
bool Park(bool* all_parked) {
  g_posted = 0;
  if (!g_platform || g_child) return false;
  bool calibrating = g_workers < 0;
  int n = calibrating ? g_platform->NumberOfWorkerThreads() : g_workers;
  if (n <= 0) return false;
  g_round++;
  for (int i = 0; i < n; i++) g_platform->CallOnWorkerThread(std::make_unique<ParkTask>(g_round));
  g_posted = n;
  int got = AwaitArrivals(n, calibrating ? kCalibrateQuietMs : 0);
  if (calibrating) g_workers = got;
  *all_parked = got >= g_workers;
  return true;
}

void Count(bool all_parked) {
  if (all_parked) g_parked++;
  else g_unparked++;
}

void Release() {
  char ones[64] = {0};
  for (int left = g_posted; left > 0;) {
    int k = left < 64 ? left : 64;
    if (WriteFully(g_release[1], ones, k) < 0) break;
    left -= k;
  }
  g_posted = 0;
}

bool MakePipe(int fds[2], bool nonblocking_read) {
  if (pipe(fds) < 0) return false;
  for (int i = 0; i < 2; i++) fcntl(fds[i], F_SETFD, FD_CLOEXEC);
  if (nonblocking_read) fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return true;
}

}  // namespace

void ParkBeforeFork() {
  if (g_held) return Count(g_held_all);
  bool all = false;
  if (Park(&all)) Count(all);
}

void ReleaseAfterFork() {
  if (!g_held) Release();
}

void ForgetPlatformInChild() {
  // The parked threads do not exist here; a fork from this process has nobody to park.
  g_child = true;
  g_held = false;
  g_platform = nullptr;
  for (int* p : {&g_arrive[0], &g_arrive[1], &g_release[0], &g_release[1]}) {
    if (*p >= 0) close(*p);
    *p = -1;
  }
}

bool FindPlatform() {
  if (g_platform) return true;
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (!isolate) return false;
  v8::HandleScope scope(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (context.IsEmpty()) return false;
  node::Environment* env = node::GetCurrentEnvironment(context);
  if (!env) return false;
  v8::Platform* platform = node::GetMultiIsolatePlatform(env);
  if (!platform) return false;
  // The pipes are made now, not at the first fork: a lesson's descriptor
  // numbers must not jump by four in the middle of its loop (lesson 4
  // counts connections up to RLIMIT_NOFILE from the listening socket's fd).
  if (!MakePipe(g_arrive, true)) return false;
  if (!MakePipe(g_release, false)) {
    close(g_arrive[0]);
    close(g_arrive[1]);
    g_arrive[0] = g_arrive[1] = -1;
    return false;
  }
  g_platform = platform;
  return true;
}

void HoldParked() {
  if (g_held) return;
  g_held_all = false;
  if (!Park(&g_held_all)) return;  // nothing to park: ParkBeforeFork() has nothing to do either
  g_held = true;
}

void ReleaseParked() {
  if (!g_held) return;
  g_held = false;
  Release();
}

ParkStats GetParkStats() {
  return {g_workers, g_parked, g_unparked, g_child};
}

}  // namespace nodefork
