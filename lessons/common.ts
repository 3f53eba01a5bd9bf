/**
 * What the lessons share that is not a system call: option parsing, logging
 * to stderr, a synchronous sleep, and naming a descriptor. Every socket,
 * fork and wait is written out in the lessons themselves.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { getpid, recv, sendall, type WaitStatus } from 'forkserve/posix';

export interface LessonOptions {
  host: string;
  port: number;
  backlog: number;
  /** Seconds a child sleeps before answering (lessons 3 to 8). */
  sleep: number;
  /** RLIMIT_NOFILE soft limit to set (lesson 4), or null. */
  nofile: number | null;
  /** RLIMIT_NPROC soft limit to set (lesson 5), or null. */
  nproc: number | null;
  /** Positional arguments (lesson 2: the app). */
  positionals: string[];
}

/** Parses the lesson's options; exits with status 2 on a bad one. */
export function lessonOptions(usage: string, defaults: { backlog: number }): LessonOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        host: { type: 'string' },
        port: { type: 'string', short: 'p' },
        backlog: { type: 'string' },
        sleep: { type: 'string' },
        nofile: { type: 'string' },
        nproc: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}`);
    process.exit(2);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const num = (name: string, v: string | undefined, min: number, integer = true): number | null => {
    if (v === undefined) return null;
    const n = Number(v);
    if (v === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      process.stderr.write(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${v}"\n${usage}`);
      process.exit(2);
    }
    return n;
  };
  return {
    host: values.host ?? '127.0.0.1',
    port: num('port', values.port, 0) ?? 8888,
    backlog: num('backlog', values.backlog, 1) ?? defaults.backlog,
    sleep: num('sleep', values.sleep, 0, false) ?? 0,
    nofile: num('nofile', values.nofile, 1),
    nproc: num('nproc', values.nproc, 1),
    positionals,
  };
}

/** One line to stderr, prefixed with who writes it. Synchronous, so a child's line is out before _exit(). */
export function say(who: 'parent' | 'child' | 'server' | 'handler', message: string): void {
  try {
    fs.writeSync(2, `[${who} ${getpid()}] ${message}\n`);
  } catch {
    // stderr is gone: nothing to do
  }
}

/** What descriptor `fd` refers to, as /proc/self/fd shows it: `socket:[12345]` (Linux); '' elsewhere. */
export function fdName(fd: number): string {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return '';
  }
}

/** Blocks the whole process, as time.sleep() does: a forked child must not rely on its inherited event loop. */
export function sleepSync(seconds: number): void {
  if (seconds > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

/** The error as the lessons print it: `accept: EINTR (interrupted system call)`. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A request's first line, for the log. */
export function requestLine(request: Buffer): string {
  const text = request.toString('latin1');
  const end = text.indexOf('\r\n');
  return JSON.stringify(end >= 0 ? text.slice(0, end) : text.slice(0, 80));
}

/** The response of lessons 1 and 3 to 8. The body ends where the connection ends: no Content-Length, `Connection: close`. */
export const HELLO = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, World!\n');

/**
 * A child's work in lessons 3 to 8, as in lesson 1's loop: read the request
 * head, sleep `sleepSeconds` (to make the child live long enough to watch),
 * write the response. Closing the connection is left to the lesson.
 */
export function handleRequest(fd: number, sleepSeconds: number): void {
  const buf = Buffer.alloc(1024);
  let request = Buffer.alloc(0);
  while (!request.includes('\r\n\r\n') && request.length < 65536) {
    const n = recv(fd, buf);
    if (n === 0) break;
    request = Buffer.concat([request, buf.subarray(0, n)]);
  }
  say('child', `fd ${fd}: ${requestLine(request)}${sleepSeconds > 0 ? `, sleeping ${sleepSeconds} s` : ''}`);
  sleepSync(sleepSeconds);
  try {
    sendall(fd, HELLO);
  } catch (err) {
    say('child', `fd ${fd}: sendall: ${errorText(err)}`);
  }
}

/** How a child ended, from its wait status. */
export function describeStatus(st: WaitStatus): string {
  if (st.exited) return `exited ${st.exitCode}`;
  if (st.signaled) return `killed by ${st.signal}`;
  return st.stopped ? 'stopped' : 'changed state';
}

/** The error with its errno fields, for the "the server stops here" message. */
export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string; code?: string; errno?: number; syscall?: string };
  return e && e.code ? `${e.name}: ${e.message} (code ${e.code}, errno ${e.errno}, syscall ${e.syscall})` : String((err as Error)?.stack ?? err);
}
