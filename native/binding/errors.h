// Errors as users of Node know them: SystemError with code/errno/syscall for
// failing syscalls, TypeError/RangeError for misuse.
#pragma once
#include <napi.h>

#include <vector>

namespace forkserve {

// Per-addon-instance state shared by the glue files.
struct AddonData {
  Napi::FunctionReference system_error;  // the SystemError class from src/errors.ts
  Napi::FunctionReference signal_dispatch;  // runs pending TypeScript signal handlers
};

AddonData& Data(Napi::Env env);

// Returns a SystemError for -err (a negative errno) from syscall, e.g.
// code 'EINTR', errno -4, syscall 'accept', message "accept: EINTR (interrupted system call)".
Napi::Error SystemError(Napi::Env env, int neg_errno, const char* syscall);
// Throws (as a C++ exception) the SystemError above.
[[noreturn]] void ThrowSystemError(Napi::Env env, int neg_errno, const char* syscall);
// Throws a TypeError / RangeError.
[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRangeError(Napi::Env env, const std::string& message);
// Throws an Error with code 'ERR_INVALID_STATE' (Node's code for a call the
// object's state does not allow: a response to a connection not waiting for one).
[[noreturn]] void ThrowStateError(Napi::Env env, const std::string& message);

// Argument readers that throw TypeError/RangeError on misuse.
int ArgFd(const Napi::CallbackInfo& info, size_t i, const char* name);
// A descriptor, or an array of them (at least one).
std::vector<int> ArgFds(const Napi::CallbackInfo& info, size_t i, const char* name);
int ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace forkserve
