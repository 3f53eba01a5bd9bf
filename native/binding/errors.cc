#include "binding/errors.h"

#include <uv.h>

namespace forkserve {

AddonData& Data(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!data) {
    data = new AddonData();
    env.SetInstanceData<AddonData>(data);
  }
  return *data;
}

Napi::Error SystemError(Napi::Env env, int neg_errno, const char* syscall) {
  // libuv's error codes are -errno on Unix, so its names match errno(3).
  const char* code = uv_err_name(neg_errno);
  std::string message = std::string(syscall) + ": " + code + " (" + uv_strerror(neg_errno) + ")";
  Napi::Object fields = Napi::Object::New(env);
  fields.Set("code", code);
  fields.Set("errno", neg_errno);
  fields.Set("syscall", syscall);
  AddonData& data = Data(env);
  if (!data.system_error.IsEmpty()) {
    Napi::Value err = data.system_error.New({Napi::String::New(env, message), fields});
    return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.Set("errno", Napi::Number::New(env, neg_errno));
  err.Set("syscall", Napi::String::New(env, syscall));
  return err;
}

void ThrowSystemError(Napi::Env env, int neg_errno, const char* syscall) {
  throw SystemError(env, neg_errno, syscall);
}

void ThrowTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void ThrowRangeError(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber())
    ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (v != static_cast<double>(static_cast<int64_t>(v)) || v < -2147483648.0 || v > 2147483647.0)
    ThrowRangeError(info.Env(), std::string("The \"") + name + "\" argument must be a 32-bit integer");
  return static_cast<int>(v);
}

int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name) {
  int fd = ArgInt(info, i, name);
  if (fd < 0) ThrowRangeError(info.Env(), std::string("The \"") + name + "\" descriptor must be >= 0");
  return fd;
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString())
    ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace forkserve
