// What posix::Fork() does around fork(2) in a Node process.
#pragma once

namespace nodefork {

// Registers posix::Fork()'s hooks (posix/sys.h): before each fork the heap
// is made inheritable (heap_advise.h) and, with park, Node's platform threads
// are parked (platform_park.h); the child forgets the platform. Call on the
// main thread during a JS call. Returns whether the platform was found (false:
// forks happen unparked). See docs/fork-in-node.md.
bool InstallForkHooks(bool park);

// For a parent that forks in a native loop and runs no event loop in between
// (the fork engine's): the platform threads are parked once and the heap
// advised once, and until EndForkLoop() a fork re-advises the heap only after
// HeapMayHaveChanged(). V8 maps memory (marked MADV_DONTFORK) only while it
// runs, and in such a loop the main thread runs JS only in the loop's
// callbacks; their caller reports each one.
void BeginForkLoop();
void HeapMayHaveChanged();
void EndForkLoop();

}  // namespace nodefork
