/**
 * Signal handlers in TypeScript, built on sigaction(2) (see sigaction(2),
 * signal(7)). The C handler only counts the signal and wakes the event loop;
 * the TypeScript handler runs on the JS thread:
 *  - around a blocking forkserve/posix call (accept, read, recv, write, send,
 *    connect, waitpid): handlers of signals that arrived before it run
 *    first, as a C handler would already have run; one that arrives during
 *    it ends the wait, its handler runs, and then the call resumes
 *    (SA_RESTART) or throws EINTR. For accept, read, recv, write and send
 *    the native wait closes the window between "no signal pending" and the
 *    kernel sleeping in the call (native/posix/signals.h, SignalAwaitFd), so
 *    a signal is never left waiting for the next connection;
 *  - or from the event loop when the JS thread is idle.
 * As in C without SA_NODEFER, a signal's handler is not re-entered: a
 * delivery while it runs waits until it returns. Standard signals do not
 * queue: a burst of SIGCHLD may run the handler fewer times than children
 * exited, exactly as in C (the lesson of waitpid loops).
 */
import { native } from './native.js';

/** Signals whose handlers TypeScript may set. */
export type SignalName =
  | 'SIGCHLD' | 'SIGTERM' | 'SIGINT' | 'SIGHUP' | 'SIGQUIT' | 'SIGUSR1' | 'SIGUSR2'
  | 'SIGALRM' | 'SIGTTIN' | 'SIGTTOU' | 'SIGPIPE' | 'SIGWINCH';

/** A handler receives the signal's name, as a C handler receives its number. */
export type SignalHandler = (signal: SignalName) => void;

export interface SigactionOptions {
  /** SA_RESTART: interrupted slow calls (accept, read, waitpid) resume instead of failing with EINTR. Default false, as Python's signal.signal. */
  restart?: boolean;
}

const handlers = new Map<string, SignalHandler>();
/** Signals installed with SA_RESTART. */
const restartable = new Set<string>();
/** Signals whose handler is running, and those that arrived meanwhile (blocked, as sigaction(2) blocks a signal during its own handler). */
const running = new Set<string>();
const blocked = new Set<string>();

/**
 * Installs `handler` for `signal` with sigaction(2), or restores the
 * default action ('default', SIG_DFL) or ignores it ('ignore', SIG_IGN).
 * Throws TypeError for an unknown signal name, RangeError for SIGKILL/SIGSTOP,
 * SystemError (code 'EINVAL') if the kernel refuses.
 */
export function sigaction(signal: SignalName, handler: SignalHandler | 'default' | 'ignore', options: SigactionOptions = {}): void {
  if (typeof handler === 'function') {
    handlers.set(signal, handler);
    native.sigaction(signal, options.restart === true);
    if (options.restart === true) restartable.add(signal);
    else restartable.delete(signal);
  } else if (handler === 'default' || handler === 'ignore') {
    handlers.delete(signal);
    restartable.delete(signal);
    blocked.delete(signal);
    native.sigreset(signal, handler === 'ignore');
  } else {
    throw new TypeError('The "handler" argument must be a function, "default" or "ignore"');
  }
}

/**
 * Runs the TypeScript handlers of signals that arrived, once per delivery
 * the kernel made; deliveries of a signal during its own handler merge into
 * one more run after it returns. Called by forkserve/posix around blocking
 * calls and from the event loop; call it yourself in a loop that makes no
 * blocking call. A handler's exception propagates to the caller.
 */
export function dispatchSignals(): void {
  dispatch();
}

/**
 * Runs the handlers of the signals that arrived. Returns how many signals
 * were taken and the names of those whose handlers ran; a signal whose
 * handler is running is blocked instead (it runs once more when it returns).
 */
function dispatch(): { taken: number; ran: string[] } {
  const ran: string[] = [];
  if (handlers.size === 0) return { taken: 0, ran };
  const pending = native.takePendingSignals();
  for (const [name, count] of pending) {
    if (running.has(name)) {
      blocked.add(name); // merged into one, as a blocked signal is
      continue;
    }
    ran.push(name);
    for (let i = 0; i < count; i++) run(name);
  }
  return { taken: pending.length, ran };
}

function run(name: string): void {
  running.add(name);
  try {
    // A delivery during the handler (seen by a blocking call it made) runs once more after it.
    do {
      blocked.delete(name);
      handlers.get(name)?.(name as SignalName);
    } while (blocked.has(name));
  } finally {
    running.delete(name);
  }
}

/**
 * Calls a blocking syscall wrapper between signal dispatches: handlers of
 * signals that came before it run first; if it fails with EINTR, the
 * handlers of the signals that interrupted it run, and it is called again
 * when every one of them was installed with SA_RESTART or is blocked
 * because its own handler is running (sigaction(2)).
 * Handlers of signals seen during a successful call run before it returns.
 */
export function withSignals<T>(call: () => T): T {
  dispatch();
  for (;;) {
    let result: T;
    try {
      result = call();
    } catch (err) {
      const { taken, ran } = dispatch();
      // A blocked signal does not interrupt; a caught one does unless SA_RESTART.
      const eintr = (err as { code?: string }).code === 'EINTR';
      if (eintr && taken > 0 && ran.every((s) => restartable.has(s))) continue;
      throw err;
    }
    dispatch();
    return result;
  }
}

native.setSignalDispatch(dispatchSignals);

/**
 * Holds SIGTERM, SIGINT and SIGQUIT until an engine installs its own
 * handlers (their default action would end a server or worker that is
 * still starting, its accept queue reset): the function returned raises
 * the held ones again (kill(2) to this process), for the engine's handlers.
 */
export function holdStopSignals(): () => void {
  const held: SignalName[] = [];
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) sigaction(sig, (s) => held.push(s));
  return () => {
    for (const s of held.splice(0)) native.kill(native.getpid(), native.constants[s]!);
  };
}
