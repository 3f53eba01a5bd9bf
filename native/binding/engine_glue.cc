// The engines' native loops exposed to TypeScript: the fork engine's parent
// loop, and the blocking HTTP connection that children and workers serve.
#include <uv.h>

#include "binding/addon.h"
#include "binding/errors.h"
#include "binding/values.h"
#include "node/fork_hooks.h"
#include "engine/conn.h"
#include "engine/counters.h"
#include "engine/fork_loop.h"
#include "engine/head_wait.h"
#include "engine/stop.h"
#include "engine/watchdog.h"
#include "posix/signals.h"

namespace forkserve {


static int OptInt(Napi::Object o, const char* key, int def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
}

static bool OptBool(Napi::Object o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}

class Connection : public Napi::ObjectWrap<Connection> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Connection",
                       {InstanceMethod("readRequest", &Connection::ReadRequest),
                        InstanceMethod("writeHead", &Connection::WriteHead),
                        InstanceMethod("writeFile", &Connection::WriteFile),
                        InstanceMethod("write", &Connection::Write),
                        InstanceMethod("end", &Connection::End),
                        InstanceMethod("close", &Connection::Close),
                        InstanceAccessor("keepAlive", &Connection::KeepAlive, nullptr),
                        InstanceAccessor("bodyBytes", &Connection::BodyBytes, nullptr),
                        InstanceAccessor("fd", &Connection::Fd, nullptr)});
  }

  explicit Connection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Connection>(info) {
    int fd = ArgFd(info, 0, "fd");
    conn_.reset(new engine::Connection(fd, LimitsFrom(info.Env(), info[1])));
  }

 private:
  engine::Connection& conn(Napi::Env env) {
    if (!conn_ || conn_->fd() < 0) ThrowSystemError(env, -EBADF, "read");
    return *conn_;
  }

  // Returns the next request, null when the peer closed or idled out, or
  // { rejected: status } after an error response was written.
  Napi::Value ReadRequest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    engine::Request req;
    int status = 0;
    engine::ReadResult r = conn(env).ReadRequest(&req, &status);
    if (r == engine::ReadResult::kClosed) return env.Null();
    if (r == engine::ReadResult::kRejected) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("rejected", status);
      return o;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("method", Latin1(env, req.head.method, req.head.method_len));
    o.Set("target", Latin1(env, req.head.target, req.head.target_len));
    o.Set("minorVersion", req.head.minor_version);
    Napi::Array headers = Napi::Array::New(env, req.head.num_headers * 2);
    for (size_t i = 0; i < req.head.num_headers; i++) {
      const hp_header& h = req.head.headers[i];
      headers.Set(static_cast<uint32_t>(2 * i), Latin1(env, h.name, h.name_len));
      headers.Set(static_cast<uint32_t>(2 * i + 1), Latin1(env, h.value, h.value_len));
    }
    o.Set("headers", headers);
    o.Set("body", Napi::Buffer<char>::Copy(env, req.body, req.body_len));
    o.Set("keepAlive", conn_->keep_alive());
    if (const http::ProxyAddress* pa = conn_->proxied()) {  // the client, as the load balancer's PROXY header says
      o.Set("remoteAddress", pa->host);
      o.Set("remotePort", pa->port);
    }
    return o;
  }

  // Reads (status, reason, headers: string[] flat) from info[0..2].
  static http::ResponseHead HeadFrom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    http::ResponseHead head;
    head.status = ArgInt(info, 0, "status");
    if (head.status < 100 || head.status > 999) ThrowRangeError(env, "status must be in 100..999");
    if (info[1].IsString()) head.reason = info[1].As<Napi::String>().Utf8Value();
    if (!info[2].IsArray()) ThrowTypeError(env, "The \"headers\" argument must be an array");
    Napi::Array arr = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i + 1 < arr.Length(); i += 2)
      head.fields.emplace_back(arr.Get(i).ToString().Utf8Value(), arr.Get(i + 1).ToString().Utf8Value());
    return head;
  }

  // writeHead(status, reason, headers: string[] flat, body?: Buffer | null): writes the head,
  // and the whole body when given; without a body the response streams (write/end).
  Napi::Value WriteHead(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    http::ResponseHead head = HeadFrom(info);
    const char* body = nullptr;
    int64_t len = -1;
    if (info.Length() > 3 && info[3].IsBuffer()) {
      auto b = info[3].As<Napi::Buffer<char>>();
      body = b.Data();
      len = static_cast<int64_t>(b.Length());
    }
    int r = conn(env).WriteHead(head, body, len);
    if (r == -EINVAL) ThrowTypeError(env, "Invalid response header field (name must be a token; value must not contain CR, LF or NUL)");
    if (r < 0) ThrowSystemError(env, r, "write");
    return env.Undefined();
  }

  // writeFile(status, reason, headers, file: { fd, offset, length, size, mtimeSec, mtimeNsec, ino, dev }):
  // writes the head, then the file with sendfile(2); the descriptor is closed
  // on every outcome but TypeError (invalid field: nothing was sent).
  // Throws SystemError 'sendfile' (EPIPE: the peer went away; ESTALE: the
  // file changed during the transfer, the connection is cut short).
  Napi::Value WriteFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    http::ResponseHead head = HeadFrom(info);
    engine::FileSegment seg = FileSegmentFrom(env, info[3]);
    int r = conn(env).WriteFile(head, &seg);
    if (r == -EINVAL) ThrowTypeError(env, "Invalid response header field (name must be a token; value must not contain CR, LF or NUL)");
    if (r < 0) ThrowSystemError(env, r, "sendfile");
    return env.Undefined();
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer()) ThrowTypeError(env, "The \"chunk\" argument must be a Buffer");
    auto b = info[0].As<Napi::Buffer<char>>();
    int r = conn(env).WriteBody(b.Data(), b.Length());
    if (r < 0) ThrowSystemError(env, r, "write");
    return env.Undefined();
  }

  Napi::Value End(const Napi::CallbackInfo& info) {
    int r = conn(info.Env()).End();
    if (r < 0) ThrowSystemError(info.Env(), r, "write");
    return info.Env().Undefined();
  }

  // Frees the connection's buffers now, not when the wrapper is finalized:
  // Node runs Node-API finalizers from its event loop, which a server loop
  // that never yields would starve (the iterative engine grew by its 16 KiB
  // input buffer per connection).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    conn_.reset();
    return info.Env().Undefined();
  }

  Napi::Value KeepAlive(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), conn_ && conn_->keep_alive());
  }
  Napi::Value BodyBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), conn_ ? static_cast<double>(conn_->body_bytes()) : 0);
  }
  Napi::Value Fd(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), conn_ ? conn_->fd() : -1);
  }

  std::unique_ptr<engine::Connection> conn_;
};

// Forwards the parent loop's events to JS callbacks, synchronously. A
// child's clean exit (status 0) is forwarded only if asked: one per
// connection, it is the loop's commonest event, and a loop that runs no JS
// between forks forks cheaper (node/fork_hooks.h).
class JsForkEvents : public engine::ForkLoopEvents {
 public:
  JsForkEvents(Napi::Env env, Napi::Function on_reaped, Napi::Function on_error, Napi::Function on_successor, bool report_clean_exits)
      : env_(env), on_reaped_(on_reaped), on_error_(on_error), on_successor_(on_successor), report_clean_exits_(report_clean_exits) {}
  void OnReaped(const posix::WaitStatus& st) override {
    // Not reported: counted here (JS counts what it is told of: ReapReasons).
    if (!report_clean_exits_ && st.exited && st.exit_code == 0) return engine::counters::Reaped(engine::counters::kExited);
    Napi::HandleScope scope(env_);
    on_reaped_.Call({WaitStatusObject(env_, st)});
    nodefork::HeapMayHaveChanged();
  }
  void OnForkFailed(int err) override { Report(err, "fork"); }
  void OnAcceptFailed(int err) override { Report(err, "accept"); }
  void OnTrace(const engine::TraceEvent& ev) override {
    if (on_trace_.IsEmpty()) return;
    static const char* const kStages[] = {"accepted", "forked", "parent-closed", "child-exited"};
    Napi::HandleScope scope(env_);
    Napi::Object o = Napi::Object::New(env_);
    o.Set("stage", kStages[static_cast<int>(ev.stage)]);
    o.Set("child", ev.child);
    o.Set("fd", ev.fd);
    o.Set("peer", ev.stage == engine::TraceStage::kChildExited ? env_.Null() : Napi::Value(AddressObject(env_, ev.peer)));
    o.Set("status", ev.stage == engine::TraceStage::kChildExited ? Napi::Value(WaitStatusObject(env_, ev.status)) : env_.Null());
    on_trace_.Call({o});
    nodefork::HeapMayHaveChanged();
  }
  void SetOnTrace(Napi::Function f) { on_trace_ = f; }
  void OnSuccessorExited(const posix::WaitStatus& st) override {
    if (on_successor_.IsEmpty()) return;
    Napi::HandleScope scope(env_);
    on_successor_.Call({WaitStatusObject(env_, st)});
    nodefork::HeapMayHaveChanged();
  }

 private:
  void Report(int err, const char* syscall) {
    Napi::HandleScope scope(env_);
    on_error_.Call({SystemError(env_, err, syscall).Value()});
    nodefork::HeapMayHaveChanged();
  }
  Napi::Env env_;
  Napi::Function on_reaped_, on_error_, on_successor_, on_trace_;
  bool report_clean_exits_;
};

// forkLoop(listenFds: number | number[], { maxChildren, gracefulTimeoutMs, reportCleanExits, successor, oldMaster,
//          pauseOnWinch, tracePauseMs, forkAfterHead, limits, maxWaiting }, onReaped, onError, onSuccessorExited?, onTrace?)
//   forkAfterHead: fork once the request head has come (engine/head_wait.h), read with limits (HttpLimits).
//   onTrace({ stage: 'accepted' | 'forked' | 'parent-closed' | 'child-exited', child, fd, peer, status })
//   is called for each stage of each connection when tracePauseMs > 0 (engine::TraceEvent).
//   -> { role: 'child', fd, address } in the child,
//      { role: 'parent', event: 'stopped' | 'upgrade' | 'reload' | 'pause' | 'reopen', stopSignal } in the parent.
static Napi::Value ForkLoop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  engine::ForkLoopOptions opt;
  bool report_clean = false;
  opt.listen_fds = ArgFds(info, 0, "listenFds");
  if (info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    opt.max_children = OptInt(o, "maxChildren", 0);
    opt.graceful_timeout_ms = OptInt(o, "gracefulTimeoutMs", 30000);
    report_clean = OptBool(o, "reportCleanExits", false);
    opt.successor = OptInt(o, "successor", 0);
    opt.old_master = OptInt(o, "oldMaster", 0);
    opt.pause_on_winch = OptBool(o, "pauseOnWinch", false);
    opt.trace_pause_ms = OptInt(o, "tracePauseMs", 0);
    opt.fork_after_head = OptBool(o, "forkAfterHead", false);
    if (opt.fork_after_head) opt.limits = LimitsFrom(env, o.Get("limits"));
    opt.max_waiting = static_cast<size_t>(OptInt(o, "maxWaiting", 16384));
    if (opt.trace_pause_ms < 0) ThrowRangeError(env, "tracePauseMs must be >= 0");
  }
  if (!info[2].IsFunction() || !info[3].IsFunction()) ThrowTypeError(env, "onReaped and onError must be functions");
  Napi::Function on_successor = info.Length() > 4 && info[4].IsFunction() ? info[4].As<Napi::Function>() : Napi::Function();
  JsForkEvents events(env, info[2].As<Napi::Function>(), info[3].As<Napi::Function>(), on_successor, report_clean);
  if (info.Length() > 5 && info[5].IsFunction()) events.SetOnTrace(info[5].As<Napi::Function>());
  // The parent runs no event loop until the loop returns: its platform
  // threads stay parked across the forks, and its heap is advised once.
  nodefork::BeginForkLoop();
  engine::ForkLoopResult r = engine::RunForkLoop(opt, &events);
  if (!r.child) nodefork::EndForkLoop();
  if (env.IsExceptionPending()) throw Napi::Error(env, env.GetAndClearPendingException().Value());
  Napi::Object o = Napi::Object::New(env);
  if (r.child) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    uv_loop_fork(loop);
    o.Set("role", "child");
    o.Set("fd", r.conn_fd);
    Napi::Object addr = Napi::Object::New(env);
    addr.Set("address", r.peer.host);
    addr.Set("port", r.peer.port);
    o.Set("address", addr);
    o.Set("listener", r.listener);
    return o;
  }
  if (r.error) ThrowSystemError(env, r.error, "pipe");
  o.Set("role", "parent");
  static const char* const kEvents[] = {"stopped", "upgrade", "reload", "pause", "reopen"};
  o.Set("event", kEvents[r.event]);
  o.Set("drained", r.drained);
  const char* name = posix::SignalName(r.stop_signal);
  o.Set("stopSignal", name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
  return o;
}

// watchdog(fd, seconds): arms the per-request deadline (0 disarms).
static Napi::Value Watchdog(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0, "fd");
  int s = ArgInt(info, 1, "seconds");
  if (s < 0) ThrowRangeError(info.Env(), "seconds must be >= 0");
  if (s == 0) engine::WatchdogDisarm();
  else engine::WatchdogArm(fd, static_cast<unsigned>(s));
  return info.Env().Undefined();
}

// reapChildren(onReaped): the waitpid(-1, WNOHANG) loop; returns the count.
static Napi::Value Reap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) ThrowTypeError(env, "onReaped must be a function");
  JsForkEvents events(env, info[0].As<Napi::Function>(), info[0].As<Napi::Function>(), Napi::Function(), true);
  return Napi::Number::New(env, engine::ReapChildren(&events));
}

// takeInheritedInput(fd) -> Buffer | null: in a fork child, the bytes the
// parent read from fd before it forked (--fork-after head), once; node:http
// gets them with socket.unshift(). The native Connection takes them itself.
static Napi::Value TakeInherited(const Napi::CallbackInfo& info) {
  std::string bytes;
  if (!engine::TakeInheritedInput(ArgInt(info, 0, "fd"), &bytes)) return info.Env().Null();
  return Napi::Buffer<char>::Copy(info.Env(), bytes.data(), bytes.size());
}

// socketsShared(successor, oldMaster) -> boolean: whether another master
// shares this one's listening sockets (engine::SocketsShared, stop.h).
static Napi::Value SocketsSharedJs(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), engine::SocketsShared(ArgInt(info, 0, "successor"), ArgInt(info, 1, "oldMaster")));
}

// countersCreate() -> fd: the master's shared counters (engine/counters.h),
// before anything forks; -1 where the region has no descriptor (macOS).
// Throws a SystemError (memfd_create, mmap) if it cannot be made.
static Napi::Value CountersCreate(const Napi::CallbackInfo& info) {
  int fd = engine::counters::Create();
  if (fd < -1) ThrowSystemError(info.Env(), fd, "memfd_create");
  return Napi::Number::New(info.Env(), fd);
}

// countResponse(status): a response sent with this status (node:http apps; native engines count their own).
static Napi::Value CountResponse(const Napi::CallbackInfo& info) {
  engine::counters::Response(ArgInt(info, 0, "status"));
  return info.Env().Undefined();
}

// countReap(reason): 'exited' | 'failed' | 'timeout' | 'memory' | 'oom' | 'signal'. TypeError for another.
static Napi::Value CountReap(const Napi::CallbackInfo& info) {
  static const char* const kReasons[] = {"exited", "failed", "timeout", "memory", "oom", "signal"};
  std::string r = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  for (int i = 0; i < engine::counters::kReapReasons; i++) {
    if (r == kReasons[i]) {
      engine::counters::Reaped(static_cast<engine::counters::Reap>(i));
      return info.Env().Undefined();
    }
  }
  ThrowTypeError(info.Env(), "reason must be one of exited, failed, timeout, memory, oom, signal");
  return info.Env().Undefined();
}

// countTimeout(): a request answered 503 for running past --timeout.
static Napi::Value CountTimeout(const Napi::CallbackInfo& info) {
  engine::counters::Timeout();
  return info.Env().Undefined();
}

void InitEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("socketsShared", Napi::Function::New(env, SocketsSharedJs, "socketsShared"));
  exports.Set("takeInheritedInput", Napi::Function::New(env, TakeInherited, "takeInheritedInput"));
  exports.Set("countersCreate", Napi::Function::New(env, CountersCreate, "countersCreate"));
  exports.Set("countResponse", Napi::Function::New(env, CountResponse, "countResponse"));
  exports.Set("countReap", Napi::Function::New(env, CountReap, "countReap"));
  exports.Set("countTimeout", Napi::Function::New(env, CountTimeout, "countTimeout"));
  exports.Set("Connection", Connection::Define(env));
  exports.Set("forkLoop", Napi::Function::New(env, ForkLoop, "forkLoop"));
  exports.Set("watchdog", Napi::Function::New(env, Watchdog, "watchdog"));
  exports.Set("reapChildren", Napi::Function::New(env, Reap, "reapChildren"));
}

}  // namespace forkserve
