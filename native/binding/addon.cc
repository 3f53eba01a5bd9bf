#include "binding/addon.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  forkserve::InitPosix(env, exports);
  forkserve::InitSignals(env, exports);
  forkserve::InitHttp(env, exports);
  forkserve::InitEngine(env, exports);
  forkserve::InitWorkers(env, exports);
  forkserve::InitPoll(env, exports);
  forkserve::InitFiles(env, exports);
  forkserve::InitProc(env, exports);
  return exports;
}

NODE_API_MODULE(forkserve, InitAddon)
