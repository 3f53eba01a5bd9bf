/**
 * Signal handlers in TypeScript, built on sigaction(2) (see sigaction(2),
 * signal(7)). The C handler only counts the signal and wakes the event loop;
 * the TypeScript handler runs on the JS thread:
 *  - right after a blocking forkserve/posix call returns, before it throws
 *    EINTR (installed without SA_RESTART) or returns its result;
 *  - or from the event loop when the JS thread is idle.
 * Standard signals do not queue: a burst of SIGCHLD may run the handler fewer
 * times than children exited, exactly as in C (the lesson of waitpid loops).
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
  } else if (handler === 'default' || handler === 'ignore') {
    handlers.delete(signal);
    native.sigreset(signal, handler === 'ignore');
  } else {
    throw new TypeError('The "handler" argument must be a function, "default" or "ignore"');
  }
}

/** Runs the TypeScript handlers of signals that arrived, once per delivery the kernel made. */
export function dispatchSignals(): void {
  if (handlers.size === 0) return;
  for (const [name, count] of native.takePendingSignals()) {
    const handler = handlers.get(name);
    for (let i = 0; handler && i < count; i++) handler(name as SignalName);
  }
}

/** Calls a syscall wrapper, then runs the handlers of signals it saw, even when it throws. */
export function withSignals<T>(call: () => T): T {
  try {
    return call();
  } finally {
    dispatchSignals();
  }
}

native.setSignalDispatch(dispatchSignals);
