// Process observation on macOS through libproc: the process tree under a pid
// and the open descriptors of a process, in the shapes of src/observe.ts
// (ProcessInfo, Descriptor). No Node-API here (binding/proc_glue.cc wraps it).
// Apple only: on other systems this header declares nothing.
//
// Calls used (<libproc.h>, <sys/proc_info.h>):
//   proc_listchildpids(ppid)                 children (zombies included)
//   proc_pidinfo(PROC_PIDTBSDINFO, arg 1)    ppid, name, state, exit status, start time
//                                            (arg 1: also finds zombies)
//   proc_pidinfo(PROC_PIDLISTFDS)            descriptor numbers and kinds
//   proc_pidfdinfo(PROC_PIDFDVNODEPATHINFO)  files: path, dev, ino
//   proc_pidfdinfo(PROC_PIDFDSOCKETINFO)     sockets: family, addresses, state
//   proc_pidfdinfo(PROC_PIDFDPIPEINFO)       pipes: kernel handles of both ends
#pragma once
#ifdef __APPLE__

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace posix {

// One process of ProcTree().
struct ProcEntry {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string command;        // pbi_name if the process set one, else pbi_comm
  char state = '?';           // 'R' (SIDL, SRUN), 'S' (SSLEEP), 'T' (SSTOP), 'Z' (SZOMB)
  uint32_t exit_status = 0;   // pbi_xstatus: the wait(2) status; meaningful for zombies
  double start_ms = 0;        // pbi_start_tvsec/usec, ms since the epoch
  int depth = 0;              // 0 for the pid asked about
  int descriptor_count = -1;  // -1 for a zombie or when the list may not be read
};

// pid and its descendants, parent first, depth-first, siblings in start
// order (as processTree() on Linux). Processes that exit during the walk are
// left out. Returns 0, or -errno for pid itself (-ESRCH: no such process).
int ProcTree(pid_t pid, std::vector<ProcEntry>* out);

// A decoded socket (family "inet" | "inet6" | "unix"; empty family: not decoded).
struct SocketEntry {
  std::string family;
  std::string protocol;       // "tcp" | "udp" | "stream" | "dgram" | "seqpacket" | "other"
  std::string local_address;  // inet: numeric address
  int local_port = 0;
  std::string remote_address;
  int remote_port = 0;
  bool has_path = false;      // unix: bound path present
  std::string path;
  std::string state;          // tcp_states.h names, UDP CLOSE/ESTABLISHED, unix LISTEN/CONNECTED/...
};

// One descriptor of ProcDescriptors().
struct FdEntry {
  int fd = -1;
  std::string type;      // "socket" | "pipe" | "file" | "tty" | "anon" | "other"
  std::string target;    // a path, "socket:[0x...]", "pipe:[0x...]", "kqueue", ...
  uint64_t device = 0;
  uint64_t inode = 0;
  std::string identity;  // equal for the same open object in any process
  int access = -1;       // 0 read, 1 write, 2 read-write, -1 unknown
  int64_t flags = -1;    // open(2) flags (O_*), -1 unknown
  int64_t pos = -1;      // file offset, -1 unknown
  SocketEntry socket;
};

// Every open descriptor of pid, by ascending fd. Descriptors closed during
// the read are left out. Returns 0 or -errno (-ESRCH, -EPERM).
int ProcDescriptors(pid_t pid, std::vector<FdEntry>* out);

}  // namespace posix

#endif  // __APPLE__
