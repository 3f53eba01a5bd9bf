/** Runs wrk (bounded in time) and parses its report. */
import { spawn } from 'node:child_process';
import { hasTaskset } from './server.js';

export interface WrkOptions {
  url: string;
  durationS: number;
  connections: number;
  threads?: number;
  /** A request per connection: adds the header Connection: close. */
  close: boolean;
  /** A Lua script file (the POST echo). */
  script?: string;
  /** Pin wrk to this CPU with taskset. */
  cpu?: number;
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  /** Mean latency and percentiles in ms. */
  mean: number;
  p50: number;
  p99: number;
  /** Socket errors (connect + read + write + timeout) and non-2xx/3xx responses. */
  errors: number;
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  raw: string;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const lat = (pct: string) => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
    return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
  };
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = se
    ? { connect: Number(se[1]), read: Number(se[2]), write: Number(se[3]), timeout: Number(se[4]) }
    : { connect: 0, read: 0, write: 0, timeout: 0 };
  const non2xx = num(/Non-2xx or 3xx responses: (\d+)/);
  return {
    requests: done ? Number(done[1]) : 0,
    seconds: done ? (Number(done[2]) * UNIT_MS[done[3]]) / 1000 : 0,
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    mean: (() => {
      const m = /^\s+Latency\s+([\d.]+)(us|ms|s|m|h)/m.exec(text);
      return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
    })(),
    p50: lat('50'),
    p99: lat('99'),
    non2xx,
    socketErrors,
    errors: socketErrors.connect + socketErrors.read + socketErrors.write + socketErrors.timeout + non2xx,
    raw: text,
  };
}

/** Runs wrk; it is killed if it outlives its duration by 15 s. */
export function runWrk(o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads ?? 1), '-c', String(o.connections), '-d', `${o.durationS}s`, '--latency'];
  if (o.close) args.push('-H', 'Connection: close');
  if (o.script) args.push('-s', o.script);
  args.push(o.url);
  const pinned = o.cpu !== undefined && hasTaskset();
  const [cmd, argv] = pinned ? ['taskset', ['-c', String(o.cpu), 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), (o.durationS + 15) * 1000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0 || !/Requests\/sec/.test(out)) reject(new Error(`wrk exited ${code}:\n${out}`));
      else resolve(parseWrk(out));
    });
  });
}
