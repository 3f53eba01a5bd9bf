// Making a Node process's memory inheritable by fork(2).
#pragma once

namespace nodefork {

// On Linux, Node builds V8 with pages marked MADV_DONTFORK, so a child that
// touches the JS heap faults (see docs/fork-in-node.md §1). This re-marks
// every private anonymous mapping MADV_DOFORK (madvise(2)). Returns the
// number of madvise(2) calls made, or -errno if /proc/self/maps cannot be
// read. No-op elsewhere (returns 0).
int AdviseHeapForFork();

}  // namespace nodefork
