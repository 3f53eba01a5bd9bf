#include "engine/stop.h"

#include <signal.h>
#include <string.h>

namespace engine {

static volatile sig_atomic_t g_stop = 0;

static void OnTerm(int) { g_stop = 1; }

void InstallGracefulStop() {
  g_stop = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnTerm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
}

bool StopRequested() { return g_stop != 0; }

}  // namespace engine
