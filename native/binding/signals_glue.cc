// Signals for TypeScript: sigaction(2) installs a C handler that only counts
// and wakes the event loop (uv_async_send is async-signal-safe); TypeScript
// handlers run later on the JS thread, either from the event loop or right
// after a blocking call returns (src/signals.ts).
#include <uv.h>

#include "binding/addon.h"
#include "binding/errors.h"
#include "posix/signals.h"

namespace forkserve {

// The addon instance that owns signal delivery (the main thread's). Signals
// are process-wide, so there is one.
static uv_async_t* g_async = nullptr;
static napi_env g_env = nullptr;

static void WakeLoop(int) {
  if (g_async) uv_async_send(g_async);
}

static void OnAsync(uv_async_t*) {
  Napi::Env env(g_env);
  Napi::HandleScope scope(env);
  AddonData& data = Data(env);
  if (data.signal_dispatch.IsEmpty()) return;
  // MakeCallback drains microtasks, as for any callback from libuv. A
  // handler that throws is an uncaught exception, as in any event callback.
  try {
    data.signal_dispatch.MakeCallback(env.Global(), {});
  } catch (const Napi::Error& err) {
    napi_fatal_exception(env, err.Value());
  }
}

static int SignalArg(const Napi::CallbackInfo& info, size_t i) {
  int signo = 0;
  if (i < info.Length() && info[i].IsString()) {
    std::string name = info[i].As<Napi::String>().Utf8Value();
    signo = posix::SignalNumber(name.c_str());
    if (!signo) ThrowTypeError(info.Env(), "Unknown signal: " + name);
  } else {
    signo = ArgInt(info, i, "signal");
  }
  return signo;
}

static Napi::Value Install(const Napi::CallbackInfo& info) {
  int signo = SignalArg(info, 0);
  bool restart = info.Length() > 1 && info[1].ToBoolean().Value();
  int r = posix::SignalInstall(signo, restart);
  if (r == -EINVAL) ThrowRangeError(info.Env(), "This signal cannot be caught");
  if (r < 0) ThrowSystemError(info.Env(), r, "sigaction");
  return info.Env().Undefined();
}

static Napi::Value Reset(const Napi::CallbackInfo& info) {
  int r = posix::SignalReset(SignalArg(info, 0), info.Length() > 1 && info[1].ToBoolean().Value());
  if (r < 0) ThrowSystemError(info.Env(), r, "sigaction");
  return info.Env().Undefined();
}

// Returns [[name, count], ...] for signals that arrived since the last call.
static Napi::Value TakePending(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  if (!posix::SignalAnyPending()) return out;
  uint32_t n = 0;
  for (int signo = 1; signo < 65; signo++) {
    int count = posix::SignalTake(signo);
    if (!count) continue;
    Napi::Array pair = Napi::Array::New(env, 2);
    const char* name = posix::SignalName(signo);
    pair.Set(0u, name ? Napi::Value(Napi::String::New(env, name)) : Napi::Value(Napi::Number::New(env, signo)));
    pair.Set(1u, count);
    out.Set(n++, pair);
  }
  return out;
}

static Napi::Value SetDispatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) ThrowTypeError(env, "The \"dispatch\" argument must be a function");
  Data(env).signal_dispatch = Napi::Persistent(info[0].As<Napi::Function>());
  if (!g_async) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    g_async = new uv_async_t;
    uv_async_init(loop, g_async, OnAsync);
    // Waiting for a signal must not keep the process alive.
    uv_unref(reinterpret_cast<uv_handle_t*>(g_async));
    g_env = env;
    posix::SignalSetNotify(WakeLoop);
  }
  return env.Undefined();
}

static Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) ThrowTypeError(info.Env(), "The \"class\" argument must be a function");
  Data(info.Env()).system_error = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

static Napi::Value SignalNameOf(const Napi::CallbackInfo& info) {
  const char* name = posix::SignalName(ArgInt(info, 0, "signal"));
  return name ? Napi::Value(Napi::String::New(info.Env(), name)) : info.Env().Null();
}

void InitSignals(Napi::Env env, Napi::Object exports) {
  exports.Set("sigaction", Napi::Function::New(env, Install, "sigaction"));
  exports.Set("sigreset", Napi::Function::New(env, Reset, "sigreset"));
  exports.Set("takePendingSignals", Napi::Function::New(env, TakePending, "takePendingSignals"));
  exports.Set("setSignalDispatch", Napi::Function::New(env, SetDispatch, "setSignalDispatch"));
  exports.Set("setSystemErrorClass", Napi::Function::New(env, SetErrorClass, "setSystemErrorClass"));
  exports.Set("signalName", Napi::Function::New(env, SignalNameOf, "signalName"));
}

}  // namespace forkserve
