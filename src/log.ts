/** stderr logging. Writes are synchronous (fs.writeSync) so a child's line is out before _exit. */
import fs from 'node:fs';
import { getpid } from './posix.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** The Common Log Format time: [21/Nov/2026:11:30:00 +0000]. */
function clfTime(d = new Date()): string {
  return `[${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000]`;
}

/** gunicorn's --log-level names, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warning', 'error'];

export interface Logger {
  /** False when access lines are not written: engines skip gathering their fields. */
  readonly accessEnabled?: boolean;
  /** False when debug lines are not written: engines skip producing them (the fork loop then reports no clean exits). */
  readonly debugEnabled?: boolean;
  /** Per-event detail (a fork child reaped with exit 0): shown with --log-level debug. */
  debug?(message: string): void;
  info(message: string): void;
  error(message: string): void;
  access(line: { remote: string; method: string; target: string; minorVersion: number; status: number; bytes: number; referer?: string; userAgent?: string }): void;
}

function write(line: string): void {
  try {
    fs.writeSync(2, line);
  } catch {
    // stderr closed: nothing useful to do
  }
}

/** A logger in gunicorn's style: `[time] [pid] [LEVEL] message`, and Combined Log Format access lines. */
export function createLogger(options: { accessLog?: boolean; quiet?: boolean; level?: LogLevel } = {}): Logger {
  const stamp = () => new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000');
  const level = LOG_LEVELS.indexOf(options.level ?? 'info');
  if (level < 0) throw new TypeError(`Unknown log level "${options.level}": expected one of ${LOG_LEVELS.join(', ')}`);
  return {
    accessEnabled: options.accessLog !== false && !options.quiet,
    debugEnabled: !options.quiet && level <= 0,
    debug(message) {
      if (!options.quiet && level <= 0) write(`[${stamp()}] [${getpid()}] [DEBUG] ${message}\n`);
    },
    info(message) {
      if (!options.quiet && level <= 1) write(`[${stamp()}] [${getpid()}] [INFO] ${message}\n`);
    },
    error(message) {
      write(`[${stamp()}] [${getpid()}] [ERROR] ${message}\n`);
    },
    access(l) {
      if (options.accessLog === false || options.quiet) return;
      const q = (s?: string) => (s ? s.replace(/["\\]/g, '\\$&') : '-');
      write(`${l.remote} - - ${clfTime()} "${l.method} ${l.target} HTTP/1.${l.minorVersion}" ${l.status} ${l.bytes || '-'} "${q(l.referer)}" "${q(l.userAgent)}"\n`);
    },
  };
}

/** Describes a waitpid status: "exited 0", "killed by SIGSEGV (core dumped)". */
export function describeStatus(st: { exited: boolean; exitCode: number | null; signaled: boolean; signal: string | null; coreDumped: boolean }): string {
  if (st.exited) return `exited ${st.exitCode}`;
  if (st.signaled) return `killed by ${st.signal}${st.coreDumped ? ' (core dumped)' : ''}`;
  return 'stopped';
}
