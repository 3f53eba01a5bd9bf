#include "engine/watchdog.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "engine/counters.h"

namespace engine {

static volatile sig_atomic_t g_fd = -1;
static volatile sig_atomic_t g_started = 0;
static unsigned g_seconds = 0;  // armed for this long; 0: disarmed

// The same body as the poll engine's timeout answer (src/engines/poll.ts).
#define WATCHDOG_BODY "request timed out (503)\n"
static_assert(sizeof(WATCHDOG_BODY) - 1 == 24, "Content-Length below must be the body's length");

static void OnAlarm(int) {
  static const char k503[] =
      "HTTP/1.1 503 Service Unavailable\r\nServer: forkserve\r\nContent-Type: text/plain\r\n"
      "Content-Length: 24\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" WATCHDOG_BODY;
  if (g_fd >= 0 && !g_started) {
    ssize_t r = write(g_fd, k503, sizeof k503 - 1);
    (void)r;
    counters::Response(503);
  }
  counters::Timeout();
  _exit(kWatchdogExit);
}

void WatchdogArm(int fd, unsigned seconds) {
  g_fd = fd;
  g_started = 0;
  g_seconds = seconds;
  if (seconds == 0) {
    alarm(0);
    return;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnAlarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  alarm(seconds);
}

void WatchdogResponseStarted() { g_started = 1; }

void WatchdogProgress() {
  if (g_seconds) alarm(g_seconds);
}

void WatchdogDisarm() {
  g_seconds = 0;
  alarm(0);
  g_fd = -1;
}

}  // namespace engine
