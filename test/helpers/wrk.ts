/** Running wrk(1) against a server, and reading its summary. */
import { spawn } from 'node:child_process';

export interface WrkCounts {
  /** Requests completed. */
  requests: number;
  /** Socket errors of every kind (connect, read, write, timeout). */
  socketErrors: number;
  /** Responses other than 2xx/3xx. */
  non2xx: number;
}

/** wrk's own counts, from its summary. */
export function wrkCounts(out: string): WrkCounts {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? -1);
  const m = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = m ? m.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { requests, socketErrors, non2xx };
}

/** Starts `wrk args...`; `done` resolves with its summary's counts when it exits. */
export function startWrk(args: string[]): { done: Promise<WrkCounts & { output: string }> } {
  const wrk = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  wrk.stdout.on('data', (d) => (out += d));
  wrk.stderr.on('data', (d) => (out += d));
  return { done: new Promise((resolve) => wrk.on('exit', () => resolve({ ...wrkCounts(out), output: out }))) };
}
