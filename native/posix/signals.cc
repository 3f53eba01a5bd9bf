#include "posix/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>

namespace posix {

#ifndef NSIG
#define NSIG 65
#endif

static volatile sig_atomic_t g_counts[NSIG];
static volatile sig_atomic_t g_any;
// Signals whose disposition is OnSignal (set by SignalInstall).
static volatile sig_atomic_t g_installed[NSIG];
static SignalNotify g_notify = nullptr;
static pthread_t g_main_thread;
static bool g_main_known = false;

static void OnSignal(int signo) {
  int saved = errno;
  // Node's helper threads (V8 platform workers, libuv's threadpool) do not
  // all block signals. The lesson "accept() fails with EINTR" needs the
  // signal to interrupt the thread blocked in accept, so move it there.
  if (g_main_known && !pthread_equal(pthread_self(), g_main_thread)) {
    pthread_kill(g_main_thread, signo);
    errno = saved;
    return;
  }
  if (signo > 0 && signo < NSIG) g_counts[signo] = g_counts[signo] + 1;
  g_any = 1;
  SignalNotify notify = g_notify;
  if (notify) notify(signo);
  errno = saved;
}

int SignalInstall(int signo, bool restart) {
  if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) return -EINVAL;
  if (!g_main_known) {
    g_main_thread = pthread_self();
    g_main_known = true;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = restart ? SA_RESTART : 0;
  if (sigaction(signo, &sa, nullptr) < 0) return -errno;
  g_installed[signo] = 1;
  // The signal may have been blocked by whoever owned it before (libuv
  // blocks none on the main thread, but be sure the lesson can see it).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  SignalNotify notify = g_notify;
  if (g_counts[signo] && notify) notify(signo);
  return 0;
}

int SignalReset(int signo, bool ignore, bool keep_count) {
  if (signo <= 0 || signo >= NSIG) return -EINVAL;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = ignore ? SIG_IGN : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  if (sigaction(signo, &sa, nullptr) < 0) return -errno;
  g_installed[signo] = 0;
  if (!keep_count) g_counts[signo] = 0;
  return 0;
}

SignalNotify SignalSetNotify(SignalNotify notify) {
  SignalNotify previous = g_notify;
  g_notify = notify;
  return previous;
}

int SignalTake(int signo) {
  if (signo <= 0 || signo >= NSIG) return 0;
  // Handlers run on this thread, so blocking it makes read-and-clear atomic.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, signo);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  int n = g_counts[signo];
  g_counts[signo] = 0;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return n;
}

bool SignalAnyPending() {
  if (!g_any) return false;
  g_any = 0;
  for (int i = 1; i < NSIG; i++)
    if (g_counts[i]) {
      g_any = 1;
      return true;
    }
  return false;
}

// Fills *set with the installed signals and returns how many there are;
// *pending tells whether a counted one is waiting to be taken.
static int Installed(sigset_t* set, bool* pending) {
  int n = 0;
  *pending = false;
  sigemptyset(set);
  for (int i = 1; i < NSIG; i++) {
    if (!g_installed[i]) continue;
    sigaddset(set, i);
    n++;
    if (g_counts[i]) *pending = true;
  }
  return n;
}

int SignalPoll(struct pollfd* fds, nfds_t nfds, int timeout_ms) {
  sigset_t handled, old;
  bool pending;
  Installed(&handled, &pending);
  // From here a handled signal stays pending (OnSignal on another thread
  // re-sends it here) until ppoll unblocks it, so none can slip between
  // the check and the wait.
  pthread_sigmask(SIG_BLOCK, &handled, &old);
  Installed(&handled, &pending);
  if (pending) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return -EINTR;
  }
  for (nfds_t i = 0; i < nfds; i++) fds[i].revents = 0;
#if defined(__linux__)
  struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
  int n = ppoll(fds, nfds, timeout_ms < 0 ? nullptr : &ts, &old);
#else
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  int n = poll(fds, nfds, timeout_ms);
#endif
  int err = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (n >= 0) return n;
  if (err != EINTR) return -err;
  // Ours is counted by now; another signal's handler (libuv's, a stop
  // handler's) is no reason to fail: 0, as a timeout, and the caller looks.
  Installed(&handled, &pending);
  return pending ? -EINTR : 0;
}

int SignalAwaitFd(int fd, bool writable) {
  sigset_t handled;
  bool pending;
  if (Installed(&handled, &pending) == 0) return 0;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if (fl & O_NONBLOCK) return 0;
  struct pollfd p;
  p.fd = fd;
  p.events = writable ? POLLOUT : POLLIN;
  for (;;) {
    int n = SignalPoll(&p, 1, -1);
    if (n != 0) return n > 0 ? 0 : n;
  }
}

void SignalsAfterForkInChild() {
  for (int i = 0; i < NSIG; i++) g_counts[i] = 0;
  g_any = 0;
  g_main_thread = pthread_self();
  g_main_known = true;
}

struct NamedSignal {
  const char* name;
  int number;
};

static const NamedSignal kSignals[] = {
    {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},       {"SIGQUIT", SIGQUIT}, {"SIGILL", SIGILL},
    {"SIGTRAP", SIGTRAP}, {"SIGABRT", SIGABRT},     {"SIGBUS", SIGBUS},   {"SIGFPE", SIGFPE},
    {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1},     {"SIGSEGV", SIGSEGV}, {"SIGUSR2", SIGUSR2},
    {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM},     {"SIGTERM", SIGTERM}, {"SIGCHLD", SIGCHLD},
    {"SIGCONT", SIGCONT}, {"SIGSTOP", SIGSTOP},     {"SIGTSTP", SIGTSTP}, {"SIGTTIN", SIGTTIN},
    {"SIGTTOU", SIGTTOU}, {"SIGURG", SIGURG},       {"SIGXCPU", SIGXCPU}, {"SIGXFSZ", SIGXFSZ},
    {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF}, {"SIGWINCH", SIGWINCH}, {"SIGIO", SIGIO},
    {"SIGSYS", SIGSYS},
};

const char* SignalName(int signo) {
  for (const auto& s : kSignals)
    if (s.number == signo) return s.name;
  return nullptr;
}

int SignalNumber(const char* name) {
  for (const auto& s : kSignals)
    if (strcmp(s.name, name) == 0) return s.number;
  return 0;
}

}  // namespace posix
