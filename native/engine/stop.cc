#include "engine/stop.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

namespace engine {

static volatile sig_atomic_t g_stop = 0;

static void OnStop(int sig) { g_stop = sig; }

static void SetAction(int sig, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, nullptr);
}

void InstallGracefulStop(bool fast) {
  g_stop = 0;
  SetAction(SIGTERM, OnStop);
  if (fast) {
    SetAction(SIGINT, OnStop);
    SetAction(SIGQUIT, OnStop);
  }
}

void RemoveGracefulStop() {
  SetAction(SIGTERM, SIG_DFL);
  SetAction(SIGINT, SIG_DFL);
  SetAction(SIGQUIT, SIG_DFL);
}

bool StopRequested() { return g_stop != 0; }

bool SocketsShared(pid_t successor, pid_t old_master) {
  return successor > 0 || (old_master > 0 && getppid() == old_master);
}

int StopSignal() { return g_stop; }

}  // namespace engine
