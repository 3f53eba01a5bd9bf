// libproc implementation of proc_darwin.h. Apple only: on other systems this
// file compiles to nothing (binding.gyp compiles every .cc of native/posix).
#ifdef __APPLE__

#include "posix/proc_darwin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libproc.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/proc_info.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <set>

namespace posix {

namespace {

// Bounds for a tree walk over a changing process table.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxProcesses = 100000;

int LastError() { return errno ? -errno : -ESRCH; }

// p_stat values of <sys/proc.h>.
char StateLetter(uint32_t status) {
  switch (status) {
    case 1:  // SIDL: being created by fork
    case 2:  // SRUN
      return 'R';
    case 3:  // SSLEEP
      return 'S';
    case 4:  // SSTOP
      return 'T';
    case 5:  // SZOMB
      return 'Z';
    default:
      return '?';
  }
}

// proc_pidinfo(PROC_PIDTBSDINFO) with arg 1, which also finds zombies.
int BsdInfo(pid_t pid, proc_bsdinfo* bi) {
  errno = 0;
  int r = proc_pidinfo(pid, PROC_PIDTBSDINFO, 1, bi, sizeof *bi);
  if (r != static_cast<int>(sizeof *bi)) return LastError();
  return 0;
}

int CountDescriptors(pid_t pid) {
  int bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, nullptr, 0);
  if (bytes <= 0) return -1;
  std::vector<proc_fdinfo> fds(static_cast<size_t>(bytes) / sizeof(proc_fdinfo) + 16);
  bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds.data(), static_cast<int>(fds.size() * sizeof(proc_fdinfo)));
  if (bytes < 0) return -1;
  return static_cast<int>(static_cast<size_t>(bytes) / sizeof(proc_fdinfo));
}

std::vector<pid_t> ChildPids(pid_t ppid) {
  int estimate = proc_listchildpids(ppid, nullptr, 0);  // a count, with room for new ones
  if (estimate <= 0) return {};
  std::vector<pid_t> buf(static_cast<size_t>(estimate) + 16, 0);
  int got = proc_listchildpids(ppid, buf.data(), static_cast<int>(buf.size() * sizeof(pid_t)));
  if (got <= 0) return {};
  // The buffer is zeroed and pid 0 is never a child: reading up to `got`
  // entries is safe whether a libproc returns a count or a byte size.
  size_t n = std::min(static_cast<size_t>(got), buf.size());
  std::vector<pid_t> out;
  for (size_t i = 0; i < n; i++)
    if (buf[i] > 0) out.push_back(buf[i]);
  return out;
}

ProcEntry Entry(const proc_bsdinfo& bi, int depth) {
  ProcEntry e;
  e.pid = static_cast<pid_t>(bi.pbi_pid);
  e.ppid = static_cast<pid_t>(bi.pbi_ppid);
  e.command = bi.pbi_name[0] ? std::string(bi.pbi_name, strnlen(bi.pbi_name, sizeof bi.pbi_name))
                             : std::string(bi.pbi_comm, strnlen(bi.pbi_comm, sizeof bi.pbi_comm));
  e.state = StateLetter(bi.pbi_status);
  e.exit_status = bi.pbi_xstatus;
  e.start_ms = static_cast<double>(bi.pbi_start_tvsec) * 1000.0 + static_cast<double>(bi.pbi_start_tvusec) / 1000.0;
  e.depth = depth;
  e.descriptor_count = e.state == 'Z' ? -1 : CountDescriptors(e.pid);
  return e;
}

void Visit(const proc_bsdinfo& bi, int depth, std::set<pid_t>* seen, std::vector<ProcEntry>* out) {
  if (seen->count(static_cast<pid_t>(bi.pbi_pid)) || out->size() >= kMaxProcesses) return;
  seen->insert(static_cast<pid_t>(bi.pbi_pid));
  out->push_back(Entry(bi, depth));
  if (depth >= kMaxDepth) return;
  std::vector<proc_bsdinfo> children;
  for (pid_t child : ChildPids(static_cast<pid_t>(bi.pbi_pid))) {
    proc_bsdinfo cbi;
    // Gone meanwhile, or listed as a traced process's original parent: skip.
    if (BsdInfo(child, &cbi) < 0 || cbi.pbi_ppid != bi.pbi_pid) continue;
    children.push_back(cbi);
  }
  std::sort(children.begin(), children.end(), [](const proc_bsdinfo& a, const proc_bsdinfo& b) {
    if (a.pbi_start_tvsec != b.pbi_start_tvsec) return a.pbi_start_tvsec < b.pbi_start_tvsec;
    if (a.pbi_start_tvusec != b.pbi_start_tvusec) return a.pbi_start_tvusec < b.pbi_start_tvusec;
    return a.pbi_pid < b.pbi_pid;
  });
  for (const proc_bsdinfo& c : children) Visit(c, depth + 1, seen, out);
}

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Kernel file flags (FREAD 1, FWRITE 2, then the O_* bits) to open(2) flags.
void FileInfo(const proc_fileinfo& pfi, FdEntry* e) {
  uint32_t f = pfi.fi_openflags;
  bool r = f & 0x1, w = f & 0x2;
  e->access = r && w ? 2 : w ? 1 : r ? 0 : -1;
  int64_t oflags = static_cast<int64_t>(f & ~0x3u) | (r && w ? O_RDWR : w ? O_WRONLY : O_RDONLY);
  if (pfi.fi_status & PROC_FP_CLEXEC) oflags |= O_CLOEXEC;
  e->flags = oflags;
  e->pos = pfi.fi_offset;
}

bool IsTtyPath(const char* path) {
  return strncmp(path, "/dev/tty", 8) == 0 || strncmp(path, "/dev/pty", 8) == 0 || strcmp(path, "/dev/console") == 0;
}

const char* TcpState(int s) {
  static const char* const kNames[] = {"CLOSE",      "LISTEN",    "SYN_SENT", "SYN_RECV",  "ESTABLISHED", "CLOSE_WAIT",
                                       "FIN_WAIT1", "CLOSING",   "LAST_ACK", "FIN_WAIT2", "TIME_WAIT"};
  return s >= 0 && s <= 10 ? kNames[s] : "UNKNOWN";
}

std::string Address(const in_sockinfo& ini, bool v4, bool local) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (v4) {
    const in_addr& a = local ? ini.insi_laddr.ina_46.i46a_addr4 : ini.insi_faddr.ina_46.i46a_addr4;
    inet_ntop(AF_INET, &a, buf, sizeof buf);
  } else {
    const in6_addr& a = local ? ini.insi_laddr.ina_6 : ini.insi_faddr.ina_6;
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
  }
  return buf;
}

void DecodeSocket(const socket_info& si, SocketEntry* s) {
  if ((si.soi_family == AF_INET || si.soi_family == AF_INET6) &&
      (si.soi_kind == SOCKINFO_TCP || si.soi_kind == SOCKINFO_IN)) {
    bool tcp = si.soi_kind == SOCKINFO_TCP;
    const in_sockinfo& ini = tcp ? si.soi_proto.pri_tcp.tcpsi_ini : si.soi_proto.pri_in;
    bool v4 = si.soi_family == AF_INET;
    s->family = v4 ? "inet" : "inet6";
    s->protocol = tcp ? "tcp" : si.soi_protocol == IPPROTO_UDP ? "udp" : "other";
    s->local_address = Address(ini, v4, true);
    s->local_port = ntohs(static_cast<uint16_t>(ini.insi_lport));
    s->remote_address = Address(ini, v4, false);
    s->remote_port = ntohs(static_cast<uint16_t>(ini.insi_fport));
    if (tcp) s->state = TcpState(si.soi_proto.pri_tcp.tcpsi_state);
    else s->state = s->remote_port != 0 ? "ESTABLISHED" : "CLOSE";  // as /proc/net/udp reads
    return;
  }
  if (si.soi_family == AF_UNIX && si.soi_kind == SOCKINFO_UN) {
    const sockaddr_un& sun = si.soi_proto.pri_un.unsi_addr.ua_sun;
    s->family = "unix";
    s->protocol = si.soi_type == SOCK_STREAM ? "stream" : si.soi_type == SOCK_DGRAM ? "dgram"
                  : si.soi_type == SOCK_SEQPACKET ? "seqpacket" : "other";
    size_t max = sizeof sun.sun_path;
    if (sun.sun_len > offsetof(sockaddr_un, sun_path) && sun.sun_path[0]) {
      s->has_path = true;
      s->path.assign(sun.sun_path, strnlen(sun.sun_path, max));
    }
    if (si.soi_options & SO_ACCEPTCONN) s->state = "LISTEN";
    else if (si.soi_state & SOI_S_ISCONNECTED) s->state = "CONNECTED";
    else if (si.soi_state & SOI_S_ISCONNECTING) s->state = "CONNECTING";
    else if (si.soi_state & SOI_S_ISDISCONNECTING) s->state = "DISCONNECTING";
    else s->state = "UNCONNECTED";
  }
}

// Fills e from one proc_fdinfo; false when the descriptor was closed meanwhile.
bool Describe(pid_t pid, const proc_fdinfo& fdi, FdEntry* e) {
  e->fd = fdi.proc_fd;
  switch (fdi.proc_fdtype) {
    case PROX_FDTYPE_VNODE: {
      vnode_fdinfowithpath vi;
      if (proc_pidfdinfo(pid, fdi.proc_fd, PROC_PIDFDVNODEPATHINFO, &vi, sizeof vi) != static_cast<int>(sizeof vi)) return false;
      const vinfo_stat& st = vi.pvip.vip_vi.vi_stat;
      e->target = vi.pvip.vip_path;
      e->device = st.vst_dev;
      e->inode = st.vst_ino;
      e->identity = std::to_string(e->device) + ":" + std::to_string(e->inode);
      e->type = S_ISFIFO(st.vst_mode) ? "pipe" : (S_ISCHR(st.vst_mode) && IsTtyPath(vi.pvip.vip_path)) ? "tty" : "file";
      FileInfo(vi.pfi, e);
      return true;
    }
    case PROX_FDTYPE_SOCKET: {
      socket_fdinfo si;
      if (proc_pidfdinfo(pid, fdi.proc_fd, PROC_PIDFDSOCKETINFO, &si, sizeof si) != static_cast<int>(sizeof si)) return false;
      // soi_so: the kernel's opaque handle of the socket, the same in every process holding it.
      e->type = "socket";
      e->target = "socket:[" + Hex(si.psi.soi_so) + "]";
      e->device = si.psi.soi_stat.vst_dev;
      e->inode = si.psi.soi_stat.vst_ino;
      e->identity = "socket:" + Hex(si.psi.soi_so);
      FileInfo(si.pfi, e);
      e->pos = -1;
      DecodeSocket(si.psi, &e->socket);
      return true;
    }
    case PROX_FDTYPE_PIPE: {
      pipe_fdinfo pi;
      if (proc_pidfdinfo(pid, fdi.proc_fd, PROC_PIDFDPIPEINFO, &pi, sizeof pi) != static_cast<int>(sizeof pi)) return false;
      // Both ends get one identity (as on Linux, where they share an inode): the smaller live handle.
      uint64_t a = pi.pipeinfo.pipe_handle, b = pi.pipeinfo.pipe_peerhandle;
      uint64_t id = (b != 0 && b < a) ? b : a;
      e->type = "pipe";
      e->target = "pipe:[" + Hex(id) + "]";
      e->device = pi.pipeinfo.pipe_stat.vst_dev;
      e->inode = pi.pipeinfo.pipe_stat.vst_ino;
      e->identity = "pipe:" + Hex(id);
      FileInfo(pi.pfi, e);
      e->pos = -1;
      return true;
    }
    case PROX_FDTYPE_KQUEUE:
      e->type = "anon";
      e->target = "kqueue";
      break;
    case PROX_FDTYPE_PSHM:
      e->type = "other";
      e->target = "pshm";
      break;
    case PROX_FDTYPE_PSEM:
      e->type = "other";
      e->target = "psem";
      break;
    case PROX_FDTYPE_FSEVENTS:
      e->type = "other";
      e->target = "fsevents";
      break;
    default:
      e->type = "other";
      e->target = "fdtype:" + std::to_string(fdi.proc_fdtype);
      break;
  }
  // Not decoded: an identity that groups with nothing.
  e->identity = "fd:" + std::to_string(pid) + ":" + std::to_string(fdi.proc_fd);
  return true;
}

}  // namespace

int ProcTree(pid_t pid, std::vector<ProcEntry>* out) {
  out->clear();
  proc_bsdinfo bi;
  int r = BsdInfo(pid, &bi);
  if (r < 0) return r;
  std::set<pid_t> seen;
  Visit(bi, 0, &seen, out);
  return 0;
}

int ProcDescriptors(pid_t pid, std::vector<FdEntry>* out) {
  out->clear();
  errno = 0;
  int bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, nullptr, 0);
  if (bytes <= 0) {
    // A zombie has no descriptor table: no descriptors, not an error.
    proc_bsdinfo bi;
    if (BsdInfo(pid, &bi) == 0 && bi.pbi_status == 5) return 0;
    return LastError();
  }
  std::vector<proc_fdinfo> fds(static_cast<size_t>(bytes) / sizeof(proc_fdinfo) + 16);
  errno = 0;
  bytes = proc_pidinfo(pid, PROC_PIDLISTFDS, 0, fds.data(), static_cast<int>(fds.size() * sizeof(proc_fdinfo)));
  if (bytes < 0 || (bytes == 0 && errno != 0)) return LastError();
  size_t n = static_cast<size_t>(bytes) / sizeof(proc_fdinfo);
  for (size_t i = 0; i < n; i++) {
    FdEntry e;
    if (Describe(pid, fds[i], &e)) out->push_back(std::move(e));
  }
  std::sort(out->begin(), out->end(), [](const FdEntry& a, const FdEntry& b) { return a.fd < b.fd; });
  return 0;
}

}  // namespace posix

#endif  // __APPLE__
