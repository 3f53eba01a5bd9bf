/** Starts the forkserve CLI on a free loopback port and watches it from /proc. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'bin/forkserve.js');
export const FIXTURES = path.join(ROOT, 'test/fixtures');

export interface RunningServer {
  pid: number;
  port: number;
  url: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGTERM, then wait for exit; returns the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

/** Starts `forkserve APP --bind 127.0.0.1:0 ...args` and waits for its "Listening at" line (bounded). */
/** Starts the CLI on a free port; `prefix` runs it through a command that execs it (prlimit, taskset): the pid stays the server's. */
export async function startServer(app: string, args: string[] = [], prefix: string[] = []): Promise<RunningServer> {
  const argv = [...prefix, process.execPath, CLI, app, '--bind', '127.0.0.1:0', ...args];
  const proc = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  proc.stdout!.on('data', () => {});
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
  const port = await new Promise<number>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`server did not start in 15 s:\n${err}`)), 15_000);
    const check = () => {
      const m = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(deadline);
        resolve(Number(m[1]));
      }
    };
    proc.stderr!.on('data', check);
    proc.on('exit', () => {
      clearTimeout(deadline);
      reject(new Error(`server exited before listening:\n${err}`));
    });
  });
  return {
    pid: proc.pid!,
    port,
    url: `http://127.0.0.1:${port}`,
    proc,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

/** Children of pid, from /proc/PID/task/TID/children. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (text) out.push(...text.split(/\s+/).map(Number));
  }
  return out;
}

/** State letter of a process from /proc/PID/stat, or null if it is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

export function zombieChildren(pid: number): number[] {
  return childPids(pid).filter((c) => procState(c) === 'Z');
}

export function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** The process's descriptors as `fd -> target` lines (for failure messages). */
export function fdTable(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    let target = '?';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // closed between the two reads
    }
    return `${fd} -> ${target}`;
  });
}

/** Waits (bounded) until cond() is true; returns its last value. */
export async function waitFor<T>(cond: () => T, timeoutMs = 5000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = cond();
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, stepMs));
    v = cond();
  }
  return v;
}

/**
 * Waits (bounded) until probe() gives a value that is not undefined, null
 * or false (0 and '' count as values), and returns it; probe may be async.
 * Throws "timed out after MS ms waiting for WHAT" when the time is up.
 */
export async function until<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, ms = 5000, stepMs = 20): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Sends raw bytes on a new TCP connection and returns everything read until the server closes (bounded). */
export async function rawRequest(port: number, data: string | Buffer, timeoutMs = 5000): Promise<string> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, timeoutMs);
    sock.on('connect', () => sock.write(data));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => {
      clearTimeout(timer);
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}
