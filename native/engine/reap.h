// The waitpid(-1, WNOHANG) loop of a master (the fork loop's parent, the
// prefork master): one SIGCHLD may stand for many exits (signals do not
// queue), so it reaps until none is left. The new master of a binary upgrade
// is the master's child too; its exit is told apart. Knows nothing of Node-API.
#pragma once
#include <sys/types.h>
#include <sys/wait.h>

#include "posix/sys.h"

namespace engine {

// Reaps every exited child without blocking. Calls on_successor(status)
// for *successor (then cleared), on_child(status) for every other child.
// Returns how many were reaped.
template <class OnChild, class OnSuccessor>
int ReapExited(pid_t* successor, OnChild on_child, OnSuccessor on_successor) {
  int reaped = 0;
  posix::WaitStatus st;
  while (posix::WaitPid(-1, WNOHANG, &st) > 0) {
    reaped++;
    if (*successor > 0 && st.pid == *successor) {
      *successor = 0;
      on_successor(st);
    } else {
      on_child(st);
    }
  }
  return reaped;
}

}  // namespace engine
