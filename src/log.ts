/**
 * Logging in gunicorn's style: the error log (info, debug and error lines)
 * and the access log, each to stderr (default), stdout ('-' for the access
 * log) or a file opened for appending. Writes are synchronous
 * (fs.writeSync) so a child's line is out before _exit. reopen() opens the
 * files again by name: SIGUSR1 after logrotate(8) has renamed them.
 */
import fs from 'node:fs';
import { getpid } from './posix.js';
import { sigaction } from './signals.js';

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
  /**
   * Opens the log files again by name (stdout and stderr stay), closing the
   * old descriptors: SIGUSR1's meaning, as gunicorn's and nginx's. Throws
   * SystemError (ENOENT, EACCES) if one cannot be opened; that log keeps
   * its old file then.
   */
  reopen?(): void;
}

/** Where a log goes: '-' is stdout for the access log and stderr for the error log, else a file path. */
export interface LogFiles {
  /** The access log (gunicorn's --access-logfile). Default: stderr. */
  accessLogFile?: string;
  /** The error log: info, debug and error lines (gunicorn's --error-logfile). Default: stderr. */
  errorLogFile?: string;
}

/** A log destination: a descriptor, reopened by name when it is a file. */
class Sink {
  private fd: number;
  constructor(private readonly path: string | undefined, stdFd: number) {
    this.fd = path === undefined || path === '-' ? stdFd : fs.openSync(path, 'a', 0o644);
  }

  write(line: string): void {
    try {
      fs.writeSync(this.fd, line);
    } catch {
      // the log is gone (stderr closed, a full disk): nothing useful to do
    }
  }

  /** Opens the file again by name (O_APPEND | O_CREAT) and closes the old descriptor; nothing for stdout/stderr. */
  reopen(): void {
    if (this.path === undefined || this.path === '-') return;
    const next = fs.openSync(this.path, 'a', 0o644);
    const old = this.fd;
    this.fd = next;
    fs.closeSync(old);
  }
}

/**
 * A logger in gunicorn's style: `[time] [pid] [LEVEL] message`, and
 * Combined Log Format access lines. Throws TypeError for an unknown level,
 * SystemError (ENOENT, EACCES, EISDIR) when a log file cannot be opened.
 */
export function createLogger(options: { accessLog?: boolean; quiet?: boolean; level?: LogLevel } & LogFiles = {}): Logger {
  const errors = new Sink(options.errorLogFile, 2);
  // One file named for both is opened once: its lines stay in order.
  const accesses = options.accessLogFile === options.errorLogFile && options.accessLogFile !== '-' ? errors : new Sink(options.accessLogFile, options.accessLogFile === '-' ? 1 : 2);
  const write = (line: string) => errors.write(line);
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
      accesses.write(`${l.remote} - - ${clfTime()} "${l.method} ${l.target} HTTP/1.${l.minorVersion}" ${l.status} ${l.bytes || '-'} "${q(l.referer)}" "${q(l.userAgent)}"\n`);
    },
    reopen() {
      errors.reopen();
      if (accesses !== errors) accesses.reopen();
    },
  };
}

/** Describes a waitpid status: "exited 0", "killed by SIGSEGV (core dumped)". */
export function describeStatus(st: { exited: boolean; exitCode: number | null; signaled: boolean; signal: string | null; coreDumped: boolean }): string {
  if (st.exited) return `exited ${st.exitCode}`;
  if (st.signaled) return `killed by ${st.signal}${st.coreDumped ? ' (core dumped)' : ''}`;
  return 'stopped';
}

/**
 * SIGUSR1 (gunicorn's and nginx's): this process opens its log files again
 * by name, then runs `forward` (a master passes the signal to its workers).
 * `announce`: a master's line saying so, written to the new file. A file
 * that cannot be opened is an error line; that log keeps its old file.
 */
export function reopenOnSigusr1(log: Logger, options: { announce?: boolean; forward?: () => void } = {}): void {
  sigaction('SIGUSR1', () => reopenLogs(log, options));
}

/** What SIGUSR1 does (reopenOnSigusr1); called directly by a native loop that took the signal itself. */
export function reopenLogs(log: Logger, options: { announce?: boolean; forward?: () => void } = {}): void {
  try {
    log.reopen?.();
    if (options.announce) log.info('SIGUSR1: log files reopened');
  } catch (err) {
    log.error(`SIGUSR1: cannot reopen the log files: ${(err as Error).message}; logging to the old ones`);
  }
  options.forward?.();
}
