#include "node/fork_hooks.h"

#include "node/heap_advise.h"
#include "node/platform_park.h"
#include "posix/sys.h"

namespace nodefork {
namespace {

bool g_in_loop = false;     // between BeginForkLoop() and EndForkLoop()
bool g_heap_clean = false;  // in the loop: the heap was advised and no JS ran since

void Prepare() {
  // Reading /proc/self/maps is most of what a fork costs beyond fork(2)
  // itself (about 0.1-0.3 ms); in a loop with no JS in between it is done once.
  if (!g_heap_clean) AdviseHeapForFork();
  g_heap_clean = g_in_loop;
  ParkBeforeFork();
}

void Child() {
  g_in_loop = false;
  g_heap_clean = false;
  ForgetPlatformInChild();
}

}  // namespace

bool InstallForkHooks(bool park) {
  bool found = park && FindPlatform();
  posix::SetForkHooks({Prepare, ReleaseAfterFork, Child});
  return found;
}

void BeginForkLoop() {
  HoldParked();
  g_in_loop = true;
  g_heap_clean = false;
}

void HeapMayHaveChanged() { g_heap_clean = false; }

void EndForkLoop() {
  g_in_loop = false;
  g_heap_clean = false;
  ReleaseParked();
}

}  // namespace nodefork
