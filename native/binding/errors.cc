#include "binding/errors.h"

#include <string.h>

#include <string>
#include <vector>

#include "engine/listeners.h"
#include "posix/errnames.h"

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
  const char* name = posix::ErrnoName(-neg_errno);
  std::string code = name ? name : "E" + std::to_string(-neg_errno);
  std::string text = strerror(-neg_errno);
  // Lower-case the first letter, as Node's messages do ("address already in use").
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z' && !(text.size() > 1 && text[1] >= 'A' && text[1] <= 'Z'))
    text[0] = static_cast<char>(text[0] - 'A' + 'a');
  std::string message = std::string(syscall) + ": " + code + " (" + text + ")";
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

void ThrowStateError(Napi::Env env, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", "ERR_INVALID_STATE");
  throw err;
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

std::vector<int> ArgFds(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i < info.Length() && info[i].IsArray()) {
    Napi::Array a = info[i].As<Napi::Array>();
    std::vector<int> fds;
    for (uint32_t k = 0; k < a.Length(); k++) {
      Napi::Value v = a.Get(k);
      if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0)
        ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must hold descriptors (integers >= 0)");
      fds.push_back(v.As<Napi::Number>().Int32Value());
    }
    if (fds.empty()) ThrowRangeError(info.Env(), std::string("The \"") + name + "\" argument must hold at least one descriptor");
    if (fds.size() > engine::kMaxListeners)
      ThrowRangeError(info.Env(), std::string("The \"") + name + "\" argument must hold at most " + std::to_string(engine::kMaxListeners) + " descriptors");
    return fds;
  }
  return {ArgFd(info, i, name)};
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString())
    ThrowTypeError(info.Env(), std::string("The \"") + name + "\" argument must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace forkserve
