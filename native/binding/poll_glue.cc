// The poll engine's glue (native/engine/poll_loop.cc). Placeholder until it lands.
#include "binding/addon.h"
namespace forkserve {
void InitPoll(Napi::Env env, Napi::Object exports) {}
}  // namespace forkserve
