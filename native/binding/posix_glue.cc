// forkserve/posix: the syscall layer exposed to TypeScript, one function per
// POSIX call. Failures throw SystemError; misuse throws TypeError/RangeError.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "binding/addon.h"
#include "binding/errors.h"
#include "binding/values.h"
#include "node/fork_hooks.h"
#include "node/platform_park.h"
#include "posix/signals.h"
#include "posix/sys.h"

namespace forkserve {

// Returns the Buffer argument i or throws TypeError.
static Napi::Buffer<char> ArgBuffer(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsBuffer())
    ThrowTypeError(info.Env(), "The \"buffer\" argument must be a Buffer");
  return info[i].As<Napi::Buffer<char>>();
}

// Reads the optional (offset, length) pair after a buffer; throws RangeError when out of bounds.
static void ArgSpan(const Napi::CallbackInfo& info, size_t i, size_t size, size_t* off, size_t* len) {
  *off = 0;
  *len = size;
  if (info.Length() > i && !info[i].IsUndefined()) {
    int o = ArgInt(info, i, "offset");
    if (o < 0 || static_cast<size_t>(o) > size) ThrowRangeError(info.Env(), "offset is out of range");
    *off = static_cast<size_t>(o);
    *len = size - *off;
  }
  if (info.Length() > i + 1 && !info[i + 1].IsUndefined()) {
    int l = ArgInt(info, i + 1, "length");
    if (l < 0 || static_cast<size_t>(l) > size - *off) ThrowRangeError(info.Env(), "length is out of range");
    *len = static_cast<size_t>(l);
  }
}

static Napi::Value Check(Napi::Env env, long r, const char* syscall) {
  if (r < 0) ThrowSystemError(env, static_cast<int>(r), syscall);
  return Napi::Number::New(env, static_cast<double>(r));
}

static Napi::Value Socket(const Napi::CallbackInfo& info) {
  return Check(info.Env(), posix::Socket(ArgInt(info, 0, "domain"), ArgInt(info, 1, "type"),
                                         info.Length() > 2 ? ArgInt(info, 2, "protocol") : 0),
               "socket");
}

static Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int sv[2];
  Check(info.Env(), posix::SocketPair(ArgInt(info, 0, "domain"), ArgInt(info, 1, "type"), sv), "socketpair");
  Napi::Array a = Napi::Array::New(info.Env(), 2);
  a.Set(0u, sv[0]);
  a.Set(1u, sv[1]);
  return a;
}

static Napi::Value SetSockOpt(const Napi::CallbackInfo& info) {
  int value = info[3].IsBoolean() ? info[3].As<Napi::Boolean>().Value() : ArgInt(info, 3, "value");
  Check(info.Env(), posix::SetSockOptInt(ArgFd(info, 0, "fd"), ArgInt(info, 1, "level"), ArgInt(info, 2, "name"), value),
        "setsockopt");
  return info.Env().Undefined();
}

static Napi::Value GetSockOpt(const Napi::CallbackInfo& info) {
  int value = 0;
  Check(info.Env(), posix::GetSockOptInt(ArgFd(info, 0, "fd"), ArgInt(info, 1, "level"), ArgInt(info, 2, "name"), &value),
        "getsockopt");
  return Napi::Number::New(info.Env(), value);
}

// The port argument of bind/connect: 0..65535, or -1 when absent (an AF_UNIX path).
static int ArgPort(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || info[i].IsUndefined()) return -1;
  int port = ArgInt(info, i, "port");
  if (port < 0 || port > 65535) ThrowRangeError(info.Env(), "port must be in 0..65535");
  return port;
}

// bind(fd, host, port) for AF_INET/AF_INET6; bind(fd, path) for AF_UNIX.
static Napi::Value Bind(const Napi::CallbackInfo& info) {
  std::string host = ArgString(info, 1, "host");
  Check(info.Env(), posix::Bind(ArgFd(info, 0, "fd"), host.c_str(), ArgPort(info, 2)), "bind");
  return info.Env().Undefined();
}

static Napi::Value Connect(const Napi::CallbackInfo& info) {
  std::string host = ArgString(info, 1, "host");
  int port = ArgPort(info, 2);
  int fd = ArgFd(info, 0, "fd");
  Check(info.Env(), posix::Connect(fd, host.c_str(), port), "connect");
  return info.Env().Undefined();
}

// sendto(fd, buf, path) -> bytes: one datagram to an AF_UNIX path ("@name": abstract).
static Napi::Value SendTo(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  if (info.Length() < 2 || !info[1].IsBuffer()) ThrowTypeError(info.Env(), "The \"buffer\" argument must be a Buffer");
  auto buf = info[1].As<Napi::Buffer<char>>();
  std::string path = ArgString(info, 2, "path");
  return Check(info.Env(), posix::SendTo(fd, buf.Data(), buf.Length(), path.c_str()), "sendto");
}

static Napi::Value Listen(const Napi::CallbackInfo& info) {
  Check(info.Env(), posix::Listen(ArgFd(info, 0, "fd"), ArgInt(info, 1, "backlog")), "listen");
  return info.Env().Undefined();
}

static Napi::Value Accept(const Napi::CallbackInfo& info) {
  posix::SockAddr peer;
  int listen_fd = ArgFd(info, 0, "fd");
  int fd = posix::SignalAwaitFd(listen_fd, false);
  if (fd == 0) fd = posix::Accept(listen_fd, &peer);
  Check(info.Env(), fd, "accept");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("fd", fd);
  o.Set("address", AddressObject(info.Env(), peer));
  return o;
}

static Napi::Value GetSockName(const Napi::CallbackInfo& info) {
  posix::SockAddr a;
  Check(info.Env(), posix::GetSockName(ArgFd(info, 0, "fd"), &a), "getsockname");
  return AddressObject(info.Env(), a);
}

static Napi::Value GetPeerName(const Napi::CallbackInfo& info) {
  posix::SockAddr a;
  Check(info.Env(), posix::GetPeerName(ArgFd(info, 0, "fd"), &a), "getpeername");
  return AddressObject(info.Env(), a);
}

static Napi::Value Read(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  auto buf = ArgBuffer(info, 1);
  size_t off, len;
  ArgSpan(info, 2, buf.Length(), &off, &len);
  ssize_t n = posix::SignalAwaitFd(fd, false);
  if (n == 0) n = posix::Read(fd, buf.Data() + off, len);
  return Check(info.Env(), n, "read");
}

static Napi::Value Recv(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  auto buf = ArgBuffer(info, 1);
  int flags = info.Length() > 2 && !info[2].IsUndefined() ? ArgInt(info, 2, "flags") : 0;
  ssize_t n = flags & MSG_DONTWAIT ? 0 : posix::SignalAwaitFd(fd, false);
  if (n == 0) n = posix::Recv(fd, buf.Data(), buf.Length(), flags);
  return Check(info.Env(), n, "recv");
}

static Napi::Value Write(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  auto buf = ArgBuffer(info, 1);
  size_t off, len;
  ArgSpan(info, 2, buf.Length(), &off, &len);
  ssize_t n = posix::SignalAwaitFd(fd, true);
  if (n == 0) n = posix::Write(fd, buf.Data() + off, len);
  return Check(info.Env(), n, "write");
}

static Napi::Value Send(const Napi::CallbackInfo& info) {
  int fd = ArgFd(info, 0, "fd");
  auto buf = ArgBuffer(info, 1);
  int flags = info.Length() > 2 && !info[2].IsUndefined() ? ArgInt(info, 2, "flags") : 0;
  ssize_t n = flags & MSG_DONTWAIT ? 0 : posix::SignalAwaitFd(fd, true);
  if (n == 0) n = posix::Send(fd, buf.Data(), buf.Length(), flags);
  return Check(info.Env(), n, "send");
}

static Napi::Value Shutdown(const Napi::CallbackInfo& info) {
  Check(info.Env(), posix::Shutdown(ArgFd(info, 0, "fd"), ArgInt(info, 1, "how")), "shutdown");
  return info.Env().Undefined();
}

static Napi::Value Close(const Napi::CallbackInfo& info) {
  Check(info.Env(), posix::Close(ArgFd(info, 0, "fd")), "close");
  return info.Env().Undefined();
}

static Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  bool on = info.Length() < 2 || info[1].ToBoolean().Value();
  Check(info.Env(), posix::SetNonBlocking(ArgFd(info, 0, "fd"), on), "fcntl");
  return info.Env().Undefined();
}

// Forks the process. In the child the libuv loop is re-initialised
// (uv_loop_fork) so timers, promises and fs.promises work there.
static Napi::Value Fork(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = posix::Fork();
  if (pid < 0) ThrowSystemError(env, pid, "fork");
  if (pid == 0) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) == napi_ok && loop) {
      int r = uv_loop_fork(loop);
      if (r < 0) ThrowSystemError(env, r, "uv_loop_fork");
    }
  }
  return Napi::Number::New(env, pid);
}

static Napi::Value WaitPid(const Napi::CallbackInfo& info) {
  posix::WaitStatus st;
  int options = info.Length() > 1 && !info[1].IsUndefined() ? ArgInt(info, 1, "options") : 0;
  pid_t r = posix::WaitPid(ArgInt(info, 0, "pid"), options, &st);
  Check(info.Env(), r, "waitpid");
  return WaitStatusObject(info.Env(), st);
}

static Napi::Value Exit(const Napi::CallbackInfo& info) {
  int code = info.Length() > 0 ? ArgInt(info, 0, "status") : 0;
  _exit(code & 0xff);
}

static Napi::Value GetPid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getpid()); }
static Napi::Value GetPpid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), getppid()); }

static Napi::Value Kill(const Napi::CallbackInfo& info) {
  Check(info.Env(), posix::Kill(ArgInt(info, 0, "pid"), ArgInt(info, 1, "signal")), "kill");
  return info.Env().Undefined();
}

static Napi::Value GetRLimit(const Napi::CallbackInfo& info) {
  int64_t soft, hard;
  Check(info.Env(), posix::GetRLimit(ArgInt(info, 0, "resource"), &soft, &hard), "getrlimit");
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("soft", static_cast<double>(soft));
  o.Set("hard", static_cast<double>(hard));
  return o;
}

static Napi::Value SetRLimit(const Napi::CallbackInfo& info) {
  auto num = [&](size_t i, const char* n) -> int64_t {
    if (!info[i].IsNumber()) ThrowTypeError(info.Env(), std::string("The \"") + n + "\" argument must be a number");
    return info[i].As<Napi::Number>().Int64Value();
  };
  Check(info.Env(), posix::SetRLimit(ArgInt(info, 0, "resource"), num(1, "soft"), num(2, "hard")), "setrlimit");
  return info.Env().Undefined();
}

// An array argument of strings, as C strings: the vector owns them; Pointers() is argv/envp-shaped (null-terminated).
struct CStrings {
  std::vector<std::string> owned;
  std::vector<char*> ptrs;
  char* const* Pointers() {
    ptrs.clear();
    for (auto& a : owned) ptrs.push_back(a.data());
    ptrs.push_back(nullptr);
    return ptrs.data();
  }
};

static CStrings ArgStrings(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || !info[i].IsArray()) ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be an array of strings");
  Napi::Array arr = info[i].As<Napi::Array>();
  CStrings out;
  for (uint32_t k = 0; k < arr.Length(); k++) out.owned.push_back(arr.Get(k).ToString().Utf8Value());
  return out;
}

// Descriptors to keep open across execve(2); absent means none.
static std::vector<int> ArgKeep(const Napi::CallbackInfo& info, size_t i) {
  std::vector<int> keep;
  if (info.Length() > i && info[i].IsArray()) {
    Napi::Array k = info[i].As<Napi::Array>();
    for (uint32_t j = 0; j < k.Length(); j++) {
      Napi::Value v = k.Get(j);
      if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0) ThrowTypeError(info.Env(), "keep must be an array of descriptors");
      keep.push_back(v.As<Napi::Number>().Int32Value());
    }
  }
  return keep;
}

static Napi::Value Execv(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  CStrings args = ArgStrings(info, 1, "args");
  std::vector<int> keep = ArgKeep(info, 2);
  int r = posix::Execv(path.c_str(), args.Pointers(), keep.data(), keep.size());
  ThrowSystemError(info.Env(), r, "execv");
}

// forkExec(path, args, env, keep) -> pid
static Napi::Value ForkExec(const Napi::CallbackInfo& info) {
  std::string path = ArgString(info, 0, "path");
  CStrings args = ArgStrings(info, 1, "args");
  CStrings env = ArgStrings(info, 2, "env");
  std::vector<int> keep = ArgKeep(info, 3);
  return Check(info.Env(), posix::ForkExec(path.c_str(), args.Pointers(), env.Pointers(), keep.data(), keep.size()), "fork");
}

static Napi::Value Alarm(const Napi::CallbackInfo& info) {
  int s = ArgInt(info, 0, "seconds");
  if (s < 0) ThrowRangeError(info.Env(), "seconds must be >= 0");
  return Napi::Number::New(info.Env(), posix::Alarm(static_cast<unsigned>(s)));
}

static Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define C(name) c.Set(#name, static_cast<double>(name))
  C(AF_INET); C(AF_INET6); C(AF_UNIX); C(SOCK_STREAM); C(SOCK_DGRAM);
  C(SOL_SOCKET); C(SO_REUSEADDR); C(SO_KEEPALIVE); C(SO_RCVBUF); C(SO_SNDBUF); C(SO_ERROR);
  C(IPPROTO_TCP); C(TCP_NODELAY); C(SHUT_RD); C(SHUT_WR); C(SHUT_RDWR); C(SOMAXCONN);
  C(MSG_PEEK); C(MSG_DONTWAIT); C(WNOHANG); C(WUNTRACED);
  C(RLIMIT_NOFILE); C(RLIMIT_NPROC); C(RLIMIT_CORE); C(SA_RESTART);
  C(SIGHUP); C(SIGINT); C(SIGQUIT); C(SIGABRT); C(SIGKILL); C(SIGUSR1); C(SIGSEGV); C(SIGUSR2);
  C(SIGPIPE); C(SIGALRM); C(SIGTERM); C(SIGCHLD); C(SIGCONT); C(SIGSTOP); C(SIGTTIN); C(SIGTTOU);
#ifdef SO_REUSEPORT
  C(SO_REUSEPORT);
#endif
#undef C
  c.Set("RLIM_INFINITY", -1);
  return c;
}

// What fork() did with Node's platform threads (node/platform_park.h).
static Napi::Value ForkParking(const Napi::CallbackInfo& info) {
  nodefork::ParkStats s = nodefork::GetParkStats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("workers", s.workers);
  o.Set("forksParked", static_cast<double>(s.forks_parked));
  o.Set("forksUnparked", static_cast<double>(s.forks_unparked));
  o.Set("inForkedChild", s.in_forked_child);
  return o;
}

void InitPosix(Napi::Env env, Napi::Object exports) {
  // FORKSERVE_NO_PARKING=1 forks without parking: only to show what it prevents (docs/fork-in-node.md).
  const char* no_parking = getenv("FORKSERVE_NO_PARKING");
  nodefork::InstallForkHooks(!no_parking || strcmp(no_parking, "1") != 0);
  exports.Set("forkParking", Napi::Function::New(env, ForkParking, "forkParking"));
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair, "socketpair"));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockOpt, "setsockopt"));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockOpt, "getsockopt"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("sendto", Napi::Function::New(env, SendTo, "sendto"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("accept", Napi::Function::New(env, Accept, "accept"));
  exports.Set("getsockname", Napi::Function::New(env, GetSockName, "getsockname"));
  exports.Set("getpeername", Napi::Function::New(env, GetPeerName, "getpeername"));
  exports.Set("read", Napi::Function::New(env, Read, "read"));
  exports.Set("recv", Napi::Function::New(env, Recv, "recv"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("send", Napi::Function::New(env, Send, "send"));
  exports.Set("shutdown", Napi::Function::New(env, Shutdown, "shutdown"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("fork", Napi::Function::New(env, Fork, "fork"));
  exports.Set("waitpid", Napi::Function::New(env, WaitPid, "waitpid"));
  exports.Set("_exit", Napi::Function::New(env, Exit, "_exit"));
  exports.Set("getpid", Napi::Function::New(env, GetPid, "getpid"));
  exports.Set("getppid", Napi::Function::New(env, GetPpid, "getppid"));
  exports.Set("kill", Napi::Function::New(env, Kill, "kill"));
  exports.Set("getrlimit", Napi::Function::New(env, GetRLimit, "getrlimit"));
  exports.Set("setrlimit", Napi::Function::New(env, SetRLimit, "setrlimit"));
  exports.Set("execv", Napi::Function::New(env, Execv, "execv"));
  exports.Set("forkExec", Napi::Function::New(env, ForkExec, "forkExec"));
  exports.Set("alarm", Napi::Function::New(env, Alarm, "alarm"));
  exports.Set("constants", Constants(env));
}

}  // namespace forkserve
