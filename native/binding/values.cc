#include "binding/values.h"

#include <sys/socket.h>

#include <string>

#include "binding/errors.h"
#include "posix/signals.h"

namespace forkserve {

Napi::String Latin1(Napi::Env env, const char* p, size_t n) {
  napi_value v;
  napi_status s = napi_create_string_latin1(env, p, n, &v);
  NAPI_THROW_IF_FAILED(env, s, Napi::String());
  return Napi::String(env, v);
}

double IntOption(Napi::Env env, Napi::Object o, const char* key, double def, double min, double max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return def;
  if (!v.IsNumber()) ThrowTypeError(env, std::string("The \"") + key + "\" option must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d)))
    ThrowRangeError(env, std::string("The \"") + key + "\" option must be an integer from " +
                             std::to_string(static_cast<int64_t>(min)) + " to " + std::to_string(static_cast<int64_t>(max)));
  return d;
}

engine::Limits LimitsFrom(Napi::Env env, Napi::Value v) {
  engine::Limits l;
  if (v.IsUndefined() || v.IsNull()) return l;
  if (!v.IsObject()) ThrowTypeError(env, "The \"limits\" argument must be an object");
  Napi::Object o = v.As<Napi::Object>();
  constexpr double kMaxBytes = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER
  constexpr double kMaxMs = 2147483647.0;
  l.parser.max_request_line = static_cast<size_t>(IntOption(env, o, "maxRequestLine", 8192, 1, 1e9));
  l.parser.max_header_bytes = static_cast<size_t>(IntOption(env, o, "maxHeaderBytes", 16384, 1, 1e9));
  // engine::Request holds 128 fields.
  l.parser.max_headers = static_cast<size_t>(IntOption(env, o, "maxHeaders", 100, 0, 128));
  l.max_body = static_cast<uint64_t>(IntOption(env, o, "maxBodyBytes", static_cast<double>(1ull << 30), 0, kMaxBytes));
  l.header_timeout_ms = static_cast<int>(IntOption(env, o, "headersTimeoutMs", 30000, 1, kMaxMs));
  l.keepalive_timeout_ms = static_cast<int>(IntOption(env, o, "keepAliveTimeoutMs", 5000, 0, kMaxMs));
  Napi::Value ka = o.Get("keepAlive");
  if (!ka.IsUndefined() && !ka.IsBoolean()) ThrowTypeError(env, "The \"keepAlive\" option must be a boolean");
  if (ka.IsBoolean()) l.keep_alive = ka.As<Napi::Boolean>().Value();
  Napi::Value pp = o.Get("proxyProtocol");
  if (!pp.IsUndefined() && !pp.IsBoolean()) ThrowTypeError(env, "The \"proxyProtocol\" option must be a boolean");
  if (pp.IsBoolean()) l.proxy_protocol = pp.As<Napi::Boolean>().Value();
  return l;
}

Napi::Object AddressObject(Napi::Env env, const posix::SockAddr& a) {
  Napi::Object o = Napi::Object::New(env);
  const char* family = a.family == AF_INET ? "IPv4" : a.family == AF_INET6 ? "IPv6" : a.family == AF_UNIX ? "unix" : "unknown";
  o.Set("family", family);
  o.Set("address", a.host);
  o.Set("port", a.port);
  return o;
}

Napi::Object WaitStatusObject(Napi::Env env, const posix::WaitStatus& st) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", st.pid);
  o.Set("exited", st.exited);
  o.Set("exitCode", st.exited ? Napi::Value(Napi::Number::New(env, st.exit_code)) : env.Null());
  o.Set("signaled", st.signaled);
  const char* name = st.signaled ? posix::SignalName(st.signal) : nullptr;
  o.Set("signal", name ? Napi::Value(Napi::String::New(env, name)) : env.Null());
  o.Set("coreDumped", st.core_dumped);
  o.Set("stopped", st.stopped);
  return o;
}

}  // namespace forkserve
