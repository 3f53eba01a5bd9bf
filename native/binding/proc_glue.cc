// Process observation on macOS through libproc (proc_pidinfo, proc_pidfdinfo).
// Linux reads /proc from TypeScript (src/observe), so nothing is exported there.
#include "binding/addon.h"
namespace forkserve {
void InitProc(Napi::Env env, Napi::Object exports) {}
}  // namespace forkserve
