// Process observation on macOS through libproc (posix/proc_darwin.h):
//   procTree(pid)        -> the tree under pid, in the shape of ProcessInfo
//   procDescriptors(pid) -> pid's descriptors, in the shape of Descriptor
// src/observe/darwin.ts turns these into forkserve/observe's results.
// Linux reads /proc from TypeScript (src/observe); there:
//   sameOpenFile(pid1, fd1, pid2, fd2) -> true | false | null (kcmp(2) refused or unavailable)
// and on both: residentBytes(pid) -> bytes | null (gone)
#include "binding/addon.h"

#include "binding/errors.h"
#include "posix/sys.h"

#ifdef __APPLE__
#include <vector>

#include "posix/proc_darwin.h"
#endif

namespace forkserve {

#ifdef __APPLE__

static int ArgPid(const Napi::CallbackInfo& info) {
  int pid = ArgInt(info, 0, "pid");
  if (pid <= 0) ThrowRangeError(info.Env(), "The \"pid\" argument must be a positive integer");
  return pid;
}

// [{ pid, ppid, command, state, exitStatus, startMs, depth, descriptorCount }]
// exitStatus: the raw wait status, for zombies, else null; descriptorCount: null when unknown.
static Napi::Value ProcTree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<posix::ProcEntry> list;
  int r = posix::ProcTree(ArgPid(info), &list);
  if (r < 0) ThrowSystemError(env, r, "proc_pidinfo");
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) {
    const posix::ProcEntry& e = list[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("pid", e.pid);
    o.Set("ppid", e.ppid);
    o.Set("command", e.command);
    o.Set("state", std::string(1, e.state));
    o.Set("exitStatus", e.state == 'Z' ? Napi::Value(Napi::Number::New(env, e.exit_status)) : env.Null());
    o.Set("startMs", e.start_ms);
    o.Set("depth", e.depth);
    o.Set("descriptorCount", e.descriptor_count < 0 ? env.Null() : Napi::Value(Napi::Number::New(env, e.descriptor_count)));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

static Napi::Value SocketObject(Napi::Env env, const posix::SocketEntry& s) {
  if (s.family.empty()) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", s.family);
  o.Set("protocol", s.protocol);
  if (s.family == "unix") {
    o.Set("path", s.has_path ? Napi::Value(Napi::String::New(env, s.path)) : env.Null());
  } else {
    o.Set("localAddress", s.local_address);
    o.Set("localPort", s.local_port);
    o.Set("remoteAddress", s.remote_address);
    o.Set("remotePort", s.remote_port);
  }
  o.Set("state", s.state);
  return o;
}

// [{ fd, type, target, device, inode, identity, access, flags, pos, socket }]
static Napi::Value ProcDescriptors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<posix::FdEntry> list;
  int r = posix::ProcDescriptors(ArgPid(info), &list);
  if (r < 0) ThrowSystemError(env, r, "proc_pidinfo");
  static const char* const kAccess[] = {"read", "write", "read-write"};
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) {
    const posix::FdEntry& e = list[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("fd", e.fd);
    o.Set("type", e.type);
    o.Set("target", e.target);
    o.Set("device", static_cast<double>(e.device));
    o.Set("inode", static_cast<double>(e.inode));
    o.Set("identity", e.identity);
    o.Set("access", e.access >= 0 && e.access <= 2 ? Napi::Value(Napi::String::New(env, kAccess[e.access])) : env.Null());
    o.Set("flags", e.flags >= 0 ? Napi::Value(Napi::Number::New(env, static_cast<double>(e.flags))) : env.Null());
    o.Set("pos", e.pos >= 0 ? Napi::Value(Napi::Number::New(env, static_cast<double>(e.pos))) : env.Null());
    o.Set("socket", SocketObject(env, e.socket));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

#endif  // __APPLE__

static Napi::Value SameOpenFile(const Napi::CallbackInfo& info) {
  int r = posix::SameOpenFile(ArgInt(info, 0, "pid1"), ArgInt(info, 1, "fd1"), ArgInt(info, 2, "pid2"), ArgInt(info, 3, "fd2"));
  if (r < 0) return info.Env().Null();
  return Napi::Boolean::New(info.Env(), r == 1);
}

static Napi::Value ResidentBytes(const Napi::CallbackInfo& info) {
  int64_t r = posix::ResidentBytes(ArgInt(info, 0, "pid"));
  if (r < 0) return info.Env().Null();
  return Napi::Number::New(info.Env(), static_cast<double>(r));
}

void InitProc(Napi::Env env, Napi::Object exports) {
  exports.Set("sameOpenFile", Napi::Function::New(env, SameOpenFile, "sameOpenFile"));
  exports.Set("residentBytes", Napi::Function::New(env, ResidentBytes, "residentBytes"));
#ifdef __APPLE__
  exports.Set("procTree", Napi::Function::New(env, ProcTree, "procTree"));
  exports.Set("procDescriptors", Napi::Function::New(env, ProcDescriptors, "procDescriptors"));
#endif
}

}  // namespace forkserve
