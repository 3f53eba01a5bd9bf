// Making a Node process safe to fork.
#pragma once

namespace posix {

// On Linux, Node builds V8 with pages marked MADV_DONTFORK, so a child that
// touches the JS heap faults (see docs/fork-in-node.md). This re-marks every
// private anonymous mapping MADV_DOFORK. Returns the number of madvise(2)
// calls made, or -errno if /proc/self/maps cannot be read. No-op elsewhere.
int PrepareHeapForFork();

}  // namespace posix
