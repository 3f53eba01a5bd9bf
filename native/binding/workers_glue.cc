// Glue for the iterative server (a stoppable accept) and the prefork engine
// (the master loop, worker heartbeats).
#include <uv.h>

#include "binding/addon.h"
#include "binding/errors.h"
#include "binding/values.h"
#include "engine/accept.h"
#include "engine/heartbeat.h"
#include "engine/prefork.h"
#include "engine/stop.h"
#include "posix/signals.h"

namespace forkserve {


// The slot of this process when it is a prefork worker.
static engine::WorkerSlot* g_slot = nullptr;

// acceptNext(listenFds: number | number[]) -> { fd, address: { address, port }, listener }, null when a stop
// signal arrived, undefined when a signal for a TypeScript handler did (run it and call again).
static Napi::Value AcceptNext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  posix::SockAddr peer;
  size_t listener = 0;
  int fd = engine::AcceptNext(ArgFds(info, 0, "listenFds"), &peer, &listener);
  if (fd == -ECANCELED) return env.Null();
  if (fd == -EINTR) return env.Undefined();  // a signal for TypeScript's handler: dispatch and call again
  if (fd < 0) ThrowSystemError(env, fd, "accept");
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", fd);
  Napi::Object addr = Napi::Object::New(env);
  addr.Set("address", peer.host);
  addr.Set("port", peer.port);
  o.Set("address", addr);
  o.Set("listener", static_cast<uint32_t>(listener));
  return o;
}

// installStopHandlers(fast): SIGTERM (and with fast, SIGINT/SIGQUIT) make acceptNext return null.
static Napi::Value InstallStop(const Napi::CallbackInfo& info) {
  engine::InstallGracefulStop(info.Length() > 0 && info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

static Napi::Value RemoveStop(const Napi::CallbackInfo& info) {
  engine::RemoveGracefulStop();
  return info.Env().Undefined();
}

// stopSignal() -> 'SIGTERM' | 'SIGINT' | ... | null
static Napi::Value StopSignal(const Napi::CallbackInfo& info) {
  const char* name = posix::SignalName(engine::StopSignal());
  return name ? Napi::Value(Napi::String::New(info.Env(), name)) : info.Env().Null();
}

// heartbeat(requestDone?): a prefork worker tells the master it is alive.
static Napi::Value Heartbeat(const Napi::CallbackInfo& info) {
  if (g_slot) {
    engine::Beat(g_slot);
    if (info.Length() > 0 && info[0].ToBoolean().Value()) g_slot->requests = g_slot->requests + 1;
  }
  return info.Env().Undefined();
}

class JsPreforkEvents : public engine::PreforkEvents {
 public:
  JsPreforkEvents(Napi::Env env, Napi::Object cbs) : env_(env), cbs_(cbs) {}
  void OnSpawned(pid_t pid, int slot) override { Call("onSpawned", {Napi::Number::New(env_, pid), Napi::Number::New(env_, slot)}); }
  void OnReaped(const posix::WaitStatus& st, bool expected) override {
    Call("onReaped", {WaitStatusObject(env_, st), Napi::Boolean::New(env_, expected)});
  }
  void OnTimeout(pid_t pid) override { Call("onTimeout", {Napi::Number::New(env_, pid)}); }
  void OnForkFailed(int err) override { Call("onError", {SystemError(env_, err, "fork").Value()}); }
  void OnWorkerCount(int n) override { Call("onWorkerCount", {Napi::Number::New(env_, n)}); }
  void OnRecycled(pid_t pid, int64_t rss) override {
    Call("onRecycled", {Napi::Number::New(env_, pid), Napi::Number::New(env_, static_cast<double>(rss))});
  }
  void OnSuccessorExited(const posix::WaitStatus& st) override { Call("onSuccessorExited", {WaitStatusObject(env_, st)}); }

 private:
  void Call(const char* name, std::initializer_list<napi_value> args) {
    Napi::HandleScope scope(env_);
    Napi::Value fn = cbs_.Get(name);
    if (fn.IsFunction()) fn.As<Napi::Function>().Call(args);
  }
  Napi::Env env_;
  Napi::Object cbs_;
};

static engine::PreforkOptions g_prefork;

// preforkMaster(listenFds, { workers, timeoutMs, gracefulTimeoutMs, successor, oldMaster, maxWorkerRssMiB }, callbacks)
//   -> { role: 'worker', slot }
//    | { role: 'master', event: 'stopped' | 'reload' | 'upgrade' | 'reopen', stopSignal, workers }
// workers: the count wanted when it returned (SIGTTIN/SIGTTOU/SIGWINCH change it).
static Napi::Value PreforkMaster(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  g_prefork.listen_fds = ArgFds(info, 0, "listenFds");
  if (!info[1].IsObject() || !info[2].IsObject()) ThrowTypeError(env, "options and callbacks must be objects");
  Napi::Object o = info[1].As<Napi::Object>();
  auto num = [&](const char* k, int def) { Napi::Value v = o.Get(k); return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def; };
  g_prefork.workers = num("workers", 2);
  if (g_prefork.workers < 0 || g_prefork.workers > 256) ThrowRangeError(env, "workers must be in 0..256");
  g_prefork.timeout_ms = num("timeoutMs", 30000);
  g_prefork.graceful_timeout_ms = num("gracefulTimeoutMs", 30000);
  g_prefork.successor = num("successor", 0);
  g_prefork.old_master = num("oldMaster", 0);
  g_prefork.max_worker_rss = static_cast<int64_t>(num("maxWorkerRssMiB", 0)) << 20;
  g_prefork.pause_on_winch = o.Get("pauseOnWinch").ToBoolean().Value();
  JsPreforkEvents events(env, info[2].As<Napi::Object>());
  engine::PreforkResult r = engine::RunPrefork(&g_prefork, &events);
  Napi::Object out = Napi::Object::New(env);
  switch (r.kind) {
    case engine::PreforkResult::kWorker: {
      uv_loop_t* loop = nullptr;
      napi_get_uv_event_loop(env, &loop);
      uv_loop_fork(loop);
      g_slot = r.slot_ptr;
      out.Set("role", "worker");
      out.Set("slot", r.slot);
      return out;
    }
    case engine::PreforkResult::kError:
      ThrowSystemError(env, r.error, "mmap");
    case engine::PreforkResult::kReload:
    case engine::PreforkResult::kUpgrade:
    case engine::PreforkResult::kReopen:
      out.Set("role", "master");
      out.Set("event", r.kind == engine::PreforkResult::kReload ? "reload" : r.kind == engine::PreforkResult::kUpgrade ? "upgrade" : "reopen");
      out.Set("workers", g_prefork.workers);
      return out;
    case engine::PreforkResult::kStopped: {
      out.Set("role", "master");
      out.Set("event", "stopped");
      const char* name = posix::SignalName(r.stop_signal);
      out.Set("stopSignal", name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
      return out;
    }
  }
  return out;
}

void InitWorkers(Napi::Env env, Napi::Object exports) {
  exports.Set("acceptNext", Napi::Function::New(env, AcceptNext, "acceptNext"));
  exports.Set("installStopHandlers", Napi::Function::New(env, InstallStop, "installStopHandlers"));
  exports.Set("removeStopHandlers", Napi::Function::New(env, RemoveStop, "removeStopHandlers"));
  exports.Set("stopSignal", Napi::Function::New(env, StopSignal, "stopSignal"));
  exports.Set("heartbeat", Napi::Function::New(env, Heartbeat, "heartbeat"));
  exports.Set("preforkMaster", Napi::Function::New(env, PreforkMaster, "preforkMaster"));
}

}  // namespace forkserve
