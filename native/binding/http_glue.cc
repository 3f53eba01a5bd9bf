// forkserve's HTTP parser exposed to TypeScript, for tests (the differential
// test against llhttp) and tools:
//
//   parseRequest(buf: Buffer, limits?: { maxRequestLine, maxHeaderBytes, maxHeaders })
//     -> { ok: true, method, target, targetForm, minorVersion, headers: [name, value][],
//          bodyKind, body: Buffer, consumed, keepAlive, expectContinue }
//      | { ok: false, status, mustClose }            (rejected: 400/414/431/501/505)
//      | { ok: false, status: 0, incomplete: true }  (more bytes are needed)
//
// It gives the buffer to the connection core (http/conn_core.h), the same
// one every engine drives, and asks it for one request: the head parsed, the
// body framed (a Content-Length slice, or the chunked coding decoded).
// Strings are latin1, as Node's own parser reports rawHeaders and url (each
// byte one code unit).
#include "binding/addon.h"
#include "binding/errors.h"
#include "binding/values.h"
#include "http/conn_core.h"

namespace forkserve {

// Returns { ok: false, status, mustClose } or the incomplete marker (status 0).
static Napi::Object Failure(Napi::Env env, int status) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", false);
  o.Set("status", status);
  if (status == 0) o.Set("incomplete", true);
  else o.Set("mustClose", true);
  return o;
}

static Napi::Value ParseRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer())
    ThrowTypeError(env, "The \"buf\" argument must be a Buffer");
  Napi::Buffer<char> buf = info[0].As<Napi::Buffer<char>>();
  hp_limits lim = hp_default_limits;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) ThrowTypeError(env, "The \"limits\" argument must be an object");
    Napi::Object o = info[1].As<Napi::Object>();
    lim.max_request_line = static_cast<size_t>(IntOption(env, o, "maxRequestLine", static_cast<double>(lim.max_request_line), 0, 1e9));
    lim.max_header_bytes = static_cast<size_t>(IntOption(env, o, "maxHeaderBytes", static_cast<double>(lim.max_header_bytes), 0, 1e9));
    lim.max_headers = static_cast<size_t>(IntOption(env, o, "maxHeaders", static_cast<double>(lim.max_headers), 0, 1e9));
  }
  http::CoreLimits core_limits;
  core_limits.parser = lim;
  core_limits.max_body = ~0ull;  // the parser's limits only: no body is too large here
  http::ConnCore core;
  if (!core.Feed(buf.Data(), buf.Length())) ThrowRangeError(env, "out of memory");
  http::Request r;
  int status = 0;
  http::Step step = core.Advance(core_limits, &r, &status);
  if (step == http::Step::kNeedMore) return Failure(env, 0);
  if (step != http::Step::kRequest) return Failure(env, status);
  const hp_request& req = r.head;
  size_t consumed = core.req_end;

  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", true);
  o.Set("method", Latin1(env, req.method, req.method_len));
  o.Set("target", Latin1(env, req.target, req.target_len));
  o.Set("targetForm", req.target_form);
  o.Set("minorVersion", req.minor_version);
  Napi::Array headers = Napi::Array::New(env, req.num_headers);
  for (size_t i = 0; i < req.num_headers; i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Latin1(env, req.headers[i].name, req.headers[i].name_len));
    pair.Set(1u, Latin1(env, req.headers[i].value, req.headers[i].value_len));
    headers.Set(static_cast<uint32_t>(i), pair);
  }
  o.Set("headers", headers);
  static const char* const kinds[] = {"none", "length", "chunked"};
  o.Set("bodyKind", kinds[req.body_kind]);
  o.Set("body", Napi::Buffer<char>::Copy(env, r.body, r.body_len));
  o.Set("consumed", static_cast<double>(consumed));
  o.Set("keepAlive", req.keep_alive != 0);
  o.Set("expectContinue", req.expect_continue != 0);
  return o;
}

void InitHttp(Napi::Env env, Napi::Object exports) {
  exports.Set("parseRequest", Napi::Function::New(env, ParseRequest, "parseRequest"));
}

}  // namespace forkserve
