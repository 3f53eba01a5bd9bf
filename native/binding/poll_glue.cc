// The poll engine's glue: runs engine::PollLoop (native/engine/poll_loop.h)
// inside Node's own event loop. The poller's descriptor (an epoll or kqueue
// fd) is watched with a uv_poll_t, the loop's deadlines with a uv_timer_t,
// and work the app's calls leave behind with a uv_idle_t. So the native loop
// runs whenever one of its sockets is ready, and the JS thread never blocks
// in it: handlers may await timers, fs or fetch while other connections are
// served.
#include <uv.h>

#include <memory>

#include "binding/addon.h"
#include "binding/errors.h"
#include "binding/values.h"
#include "engine/poll_loop.h"

namespace forkserve {

// Returns the string value of v (coerced as String(v)) in *out, reusing its capacity.
static void Utf8Into(napi_env env, napi_value v, std::string* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) napi_coerce_to_string(env, v, &v);
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  out->resize(len);
  napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len);
}

class PollServer;

// libuv handles outlive the JS object until their close callbacks have run.
// An async cleanup hook holds a worker thread's teardown until then: the
// addon (and the close callback's code) may be unloaded right after it.
struct UvHandles {
  uv_poll_t poll;
  uv_timer_t timer;
  uv_idle_t idle;
  int open = 0;
  PollServer* owner = nullptr;  // nullptr once closing
  napi_async_cleanup_hook_handle hook = nullptr;
};

static void OnHandleClosed(uv_handle_t* h) {
  UvHandles* uv = static_cast<UvHandles*>(h->data);
  if (--uv->open > 0) return;
  if (uv->hook) napi_remove_async_cleanup_hook(uv->hook);
  delete uv;
}

class PollServer : public Napi::ObjectWrap<PollServer>, public engine::PollHandler {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "PollServer",
                       {InstanceMethod("respond", &PollServer::Respond),
                        InstanceMethod("respondFile", &PollServer::RespondFile),
                        InstanceMethod("write", &PollServer::Write),
                        InstanceMethod("end", &PollServer::End),
                        InstanceMethod("close", &PollServer::Close),
                        InstanceMethod("stop", &PollServer::Stop),
                        InstanceAccessor("connections", &PollServer::Connections, nullptr),
                        InstanceAccessor("requests", &PollServer::Requests, nullptr),
                        InstanceAccessor("running", &PollServer::Running, nullptr)});
  }

  // new PollServer(listenFds: number | number[], limits, { onRequest, onClose?, onDrain?, onRejected?, onError?, onStopped? })
  explicit PollServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PollServer>(info) {
    Napi::Env env = info.Env();
    std::vector<int> fds = ArgFds(info, 0, "listenFds");
    if (info.Length() < 3 || !info[2].IsObject()) ThrowTypeError(env, "The \"callbacks\" argument must be an object");
    Napi::Object cb = info[2].As<Napi::Object>();
    if (!cb.Get("onRequest").IsFunction()) ThrowTypeError(env, "callbacks.onRequest must be a function");
    on_request_ = Napi::Persistent(cb.Get("onRequest").As<Napi::Function>());
    Optional(cb, "onClose", &on_close_);
    Optional(cb, "onDrain", &on_drain_);
    Optional(cb, "onRejected", &on_rejected_);
    Optional(cb, "onError", &on_error_);
    Optional(cb, "onStopped", &on_stopped_);
    empty_body_ = Napi::Persistent(Napi::Buffer<char>::New(env, 0).As<Napi::Object>());
    async_.reset(new Napi::AsyncContext(env, "forkserve.poll", info.This().As<Napi::Object>()));

    const char* failed = "";
    int r = loop_.Start(fds, LimitsFrom(info.Env(), info[1]), this, &failed);
    if (r < 0) ThrowSystemError(env, r, failed);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    uv_ = new UvHandles;
    uv_timer_init(loop, &uv_->timer);
    uv_idle_init(loop, &uv_->idle);
    uv_->open = 2;
    r = uv_poll_init(loop, &uv_->poll, loop_.fd());
    if (r < 0) {
      uv_->timer.data = uv_->idle.data = uv_;
      uv_close(reinterpret_cast<uv_handle_t*>(&uv_->timer), OnHandleClosed);
      uv_close(reinterpret_cast<uv_handle_t*>(&uv_->idle), OnHandleClosed);
      uv_ = nullptr;
      loop_.Shutdown();
      ThrowSystemError(env, r, "uv_poll_init");  // libuv errors are -errno on Unix
    }
    uv_->open = 3;
    uv_->poll.data = uv_->timer.data = uv_->idle.data = this;
    // The poll handle keeps the process alive while serving; the timer and
    // the idle handle only help it.
    uv_unref(reinterpret_cast<uv_handle_t*>(&uv_->timer));
    uv_unref(reinterpret_cast<uv_handle_t*>(&uv_->idle));
    uv_poll_start(&uv_->poll, UV_READABLE, OnPoll);
    running_ = true;
    uv_->owner = this;
    // A worker thread that ends while serving: close the handles while its
    // libuv loop still exists.
    napi_add_async_cleanup_hook(env, OnEnvCleanup, uv_, &uv_->hook);
    Ref();  // served connections need this object even if JS drops it
    Rearm();
  }

  // Only reached after Teardown (the object holds a reference to itself
  // while it runs) or after OnEnvCleanup.
  ~PollServer() override {
    if (running_) {
      running_ = false;
      CloseHandles();
    }
  }

 private:
  static void Optional(Napi::Object cb, const char* name, Napi::FunctionReference* out) {
    Napi::Value v = cb.Get(name);
    if (v.IsFunction()) *out = Napi::Persistent(v.As<Napi::Function>());
  }

  // Calls a JS callback; an exception is an uncaught exception, as in any event callback.
  void Call(Napi::FunctionReference& fn, std::initializer_list<napi_value> args) {
    CallArgs(fn, args.size(), args.begin());
  }

  // The same, with an argument array.
  void CallArgs(Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
    if (fn.IsEmpty()) return;
    napi_env env = Env();
    napi_value result;
    napi_value recv;
    napi_get_undefined(env, &recv);
    if (napi_call_function(env, recv, fn.Value(), argc, argv, &result) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }

  // --- engine::PollHandler: called from inside Run, in a callback scope ---

  // onRequest(connId, method, target, minorVersion, headers, body, keepAlive, remoteAddress, remotePort, listener):
  // positional, so that JS builds the request object as a literal (V8 creates
  // it with its final shape; properties set one by one from C++ take the
  // slow generic path, and measurably so at tens of thousands of requests/s).
  void OnRequest(uint32_t id, const engine::Request& req, bool keep_alive, const posix::SockAddr& peer, int listener) override {
    napi_env env = Env();
    const hp_request& h = req.head;
    napi_value argv[10];
    napi_create_uint32(env, id, &argv[0]);
    argv[1] = Latin1(env, h.method, h.method_len);
    argv[2] = Latin1(env, h.target, h.target_len);
    napi_create_int32(env, h.minor_version, &argv[3]);
    napi_create_array_with_length(env, h.num_headers * 2, &argv[4]);
    for (size_t i = 0; i < h.num_headers; i++) {
      napi_set_element(env, argv[4], static_cast<uint32_t>(2 * i), Latin1(env, h.headers[i].name, h.headers[i].name_len));
      napi_set_element(env, argv[4], static_cast<uint32_t>(2 * i + 1), Latin1(env, h.headers[i].value, h.headers[i].value_len));
    }
    if (req.body_len == 0) {
      argv[5] = empty_body_.Value();  // a zero-length Buffer cannot be changed: one serves every request
    } else {
      void* data = nullptr;
      napi_create_buffer_copy(env, req.body_len, req.body, &data, &argv[5]);
    }
    napi_get_boolean(env, keep_alive, &argv[6]);
    napi_create_string_utf8(env, peer.host, NAPI_AUTO_LENGTH, &argv[7]);
    napi_create_int32(env, peer.port, &argv[8]);
    napi_create_int32(env, listener, &argv[9]);
    CallArgs(on_request_, 10, argv);
  }

  void OnRejected(int status, const posix::SockAddr& peer) override {
    if (on_rejected_.IsEmpty()) return;
    napi_env env = Env();
    napi_value st, addr, port;
    napi_create_int32(env, status, &st);
    napi_create_string_utf8(env, peer.host, NAPI_AUTO_LENGTH, &addr);
    napi_create_int32(env, peer.port, &port);
    Call(on_rejected_, {st, addr, port});
  }

  void OnDrain(uint32_t id) override { CallId(on_drain_, id); }
  void OnClose(uint32_t id) override { CallId(on_close_, id); }

  void OnError(int neg_errno, const char* syscall) override {
    if (on_error_.IsEmpty()) return;
    Call(on_error_, {SystemError(Env(), neg_errno, syscall).Value()});
  }

  void OnStopped() override {
    Teardown();
    Call(on_stopped_, {});
  }

  void CallId(Napi::FunctionReference& fn, uint32_t id) {
    if (fn.IsEmpty()) return;
    napi_value v;
    napi_create_uint32(Env(), id, &v);
    Call(fn, {v});
  }

  // --- libuv side ---

  static void OnPoll(uv_poll_t* h, int status, int events) {
    static_cast<PollServer*>(h->data)->Run(&engine::PollLoop::RunOnce);
  }
  static void OnTimer(uv_timer_t* h) {
    PollServer* self = static_cast<PollServer*>(h->data);
    self->timer_at_ = -1;
    self->Run(&engine::PollLoop::RunTimers);
  }
  static void OnIdle(uv_idle_t* h) {
    PollServer* self = static_cast<PollServer*>(h->data);
    self->Run(&engine::PollLoop::RunPending);
    if (self->running_ && !self->loop_.HasPendingWork()) uv_idle_stop(&self->uv_->idle);
  }

  // Runs one step of the native loop in a callback scope: when it closes,
  // Node runs the microtasks and nextTicks the callbacks queued (a sync
  // handler's response is written then), as after any I/O callback.
  void Run(void (engine::PollLoop::*step)()) {
    if (!running_) return;
    Napi::Env env = Env();
    Napi::HandleScope handles(env);
    {
      Napi::CallbackScope scope(env, *async_);
      (loop_.*step)();
    }
    Rearm();
  }

  // Starts the idle handle while the loop has pending work, and the timer
  // for the next deadline when it is earlier than the one armed (a timer
  // that fires early finds nothing and is armed again).
  void Rearm() {
    if (!running_) return;
    if (loop_.HasPendingWork()) uv_idle_start(&uv_->idle, OnIdle);
    int64_t at = loop_.NextDeadline();
    if (at < 0 || (timer_at_ >= 0 && timer_at_ <= at)) return;
    int64_t delay = at - posix::MonotonicMs();
    uv_timer_start(&uv_->timer, OnTimer, delay > 0 ? static_cast<uint64_t>(delay) : 0, 0);
    timer_at_ = at;
  }

  void CloseHandles() {
    // Stop watching the poller's fd (libuv forgets it at once) before the
    // loop closes it; the handles' memory goes when libuv is done with them.
    uv_poll_stop(&uv_->poll);
    uv_->owner = nullptr;
    uv_->poll.data = uv_->timer.data = uv_->idle.data = uv_;
    uv_close(reinterpret_cast<uv_handle_t*>(&uv_->poll), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&uv_->timer), OnHandleClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&uv_->idle), OnHandleClosed);
    uv_ = nullptr;
    loop_.Shutdown();
  }

  // The environment is going away while serving (a worker ends): close the
  // handles now; the last close callback removes the hook.
  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* arg) {
    UvHandles* uv = static_cast<UvHandles*>(arg);
    if (!uv->owner) return;  // already closing
    uv->owner->running_ = false;
    uv->owner->CloseHandles();
  }

  void Teardown() {
    running_ = false;
    CloseHandles();
    Unref();  // JS may let the object go now
  }

  // --- the app's side (called from JS) ---

  uint32_t IdArg(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) ThrowTypeError(info.Env(), "The \"connId\" argument must be a number");
    return info[0].As<Napi::Number>().Uint32Value();
  }

  // Reads (status, reason, headers: string[] flat) from info[1..3] into head_.
  void HeadArgs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int status = ArgInt(info, 1, "status");
    if (status < 100 || status > 999) ThrowRangeError(env, "status must be in 100..999");
    if (!info[3].IsArray()) ThrowTypeError(env, "The \"headers\" argument must be an array");
    head_.status = status;
    if (info[2].IsString()) Utf8Into(env, info[2], &head_.reason);
    else head_.reason.clear();
    napi_value arr = info[3];
    uint32_t n = 0;
    napi_get_array_length(env, arr, &n);
    head_.fields.resize(n / 2);
    for (uint32_t i = 0; i + 1 < n; i += 2) {
      napi_value k, v;
      napi_get_element(env, arr, i, &k);
      napi_get_element(env, arr, i + 1, &v);
      Utf8Into(env, k, &head_.fields[i / 2].first);
      Utf8Into(env, v, &head_.fields[i / 2].second);
    }
  }

  // What respond() and respondFile() return, or throw, for the loop's result.
  Napi::Value Responded(Napi::Env env, int64_t r) {
    Rearm();
    if (r == -EINVAL) ThrowTypeError(env, "Invalid response header field (name must be a token; value must not contain CR, LF or NUL)");
    if (r == -EALREADY) ThrowStateError(env, "respond: this connection is not waiting for a response");
    return Napi::Number::New(env, r < 0 ? -1 : static_cast<double>(r));
  }

  // respond(connId, status, reason, headers: string[] flat, body: Buffer | null)
  //   -> body bytes sent (0 for HEAD/204/304/stream), or -1 when the connection is gone.
  Napi::Value Respond(const Napi::CallbackInfo& info) {
    uint32_t id = IdArg(info);
    HeadArgs(info);
    const char* body = nullptr;
    int64_t len = -1;
    if (info.Length() > 4 && info[4].IsBuffer()) {
      auto b = info[4].As<Napi::Buffer<char>>();
      body = b.Data();
      len = static_cast<int64_t>(b.Length());
    }
    return Responded(info.Env(), loop_.Respond(id, head_, body, len));
  }

  // respondFile(connId, status, reason, headers, file: { fd, offset, length, size, mtimeSec, mtimeNsec, ino, dev })
  //   -> body bytes the response carries, or -1 when the connection is gone.
  // The descriptor is the connection's from then on (closed when sent or
  // gone), except when this throws TypeError (invalid field): then nothing
  // was sent and it is still the caller's.
  Napi::Value RespondFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = IdArg(info);
    HeadArgs(info);
    engine::FileSegment seg = FileSegmentFrom(env, info[4]);
    int64_t r = loop_.RespondFile(id, head_, &seg);
    return Responded(env, r);
  }

  // write(connId, chunk) -> 1 go on, 0 wait for onDrain, -1 the connection is gone.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id = IdArg(info);
    if (!info[1].IsBuffer()) ThrowTypeError(env, "The \"chunk\" argument must be a Buffer");
    auto b = info[1].As<Napi::Buffer<char>>();
    int r = loop_.Write(id, b.Data(), b.Length());
    Rearm();
    if (r == -EALREADY) ThrowStateError(env, "write: no response body is streaming on this connection");
    return Napi::Number::New(env, r < 0 ? -1 : r);
  }

  // end(connId) -> body bytes of the response, or -1 when the connection is gone.
  Napi::Value End(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t r = loop_.End(IdArg(info));
    Rearm();
    if (r == -EALREADY) ThrowStateError(env, "end: no response body is streaming on this connection");
    return Napi::Number::New(env, r < 0 ? -1 : static_cast<double>(r));
  }

  // close(connId): closes the connection now (a response that failed midway).
  Napi::Value Close(const Napi::CallbackInfo& info) {
    loop_.Close(IdArg(info));
    Rearm();
    return info.Env().Undefined();
  }

  // stop(graceful, refuseNew): stops accepting; onStopped follows when no connection is left.
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (running_) {
      loop_.Stop(info.Length() > 0 && info[0].ToBoolean().Value(), info.Length() > 1 && info[1].ToBoolean().Value());
      Rearm();
    }
    return info.Env().Undefined();
  }

  Napi::Value Connections(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(loop_.connections()));
  }
  Napi::Value Requests(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(loop_.requests()));
  }
  Napi::Value Running(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), running_); }

  engine::PollLoop loop_;
  UvHandles* uv_ = nullptr;
  bool running_ = false;
  int64_t timer_at_ = -1;   // when the armed uv timer fires (loop clock), -1: none
  http::ResponseHead head_; // reused by every respond(): its strings keep their capacity
  std::unique_ptr<Napi::AsyncContext> async_;
  Napi::ObjectReference empty_body_;
  Napi::FunctionReference on_request_, on_close_, on_drain_, on_rejected_, on_error_, on_stopped_;
};

void InitPoll(Napi::Env env, Napi::Object exports) { exports.Set("PollServer", PollServer::Define(env)); }

}  // namespace forkserve
