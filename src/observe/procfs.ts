// Low-level /proc readers and parsers for forkserve/observe (Linux only).
// Everything here is synchronous: procfs files are generated in memory by the
// kernel on read, so a read never waits on a disk.
//
// Reference: proc(5) (sections /proc/pid/stat, /proc/pid/fd, /proc/pid/fdinfo,
// /proc/pid/cmdline, /proc/stat, /proc/net).

import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { SystemError } from '../errors.js';

/**
 * USER_HZ, the unit of the time fields in /proc/PID/stat. It is fixed at 100
 * by the kernel ABI on every Linux architecture Node runs on (it is what
 * `getconf CLK_TCK` / `sysconf(_SC_CLK_TCK)` returns), independent of the
 * kernel's internal CONFIG_HZ.
 */
export const CLK_TCK = 100;

/** The fields of /proc/PID/stat that forkserve/observe uses. */
export interface StatFields {
  /** Field 1. */
  pid: number;
  /** Field 2 without its parentheses: task->comm, at most 15 bytes, any bytes but NUL. */
  comm: string;
  /** Field 3: a single state letter. */
  state: string;
  /** Field 4. */
  ppid: number;
  /** Field 22: start time in clock ticks (1/CLK_TCK s) since boot. */
  startTicks: number;
}

/**
 * Parses the text of /proc/PID/stat.
 *
 * Field 2 (comm) is the executable's name in parentheses and may itself contain
 * spaces and parentheses (a program named `a) b (c` gives `(a) b (c)`), so the
 * text is split at the LAST `)`: everything after it is space-separated
 * numbers and the state letter.
 */
export function parseStat(text: string): StatFields {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) {
    throw new Error(`unexpected /proc/PID/stat format: ${JSON.stringify(text.slice(0, 80))}`);
  }
  // After ") " come fields 3, 4, ...; fields[0] is field 3.
  const fields = text.slice(close + 2).trimEnd().split(' ');
  const parsed: StatFields = {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    startTicks: Number(fields[22 - 3]),
  };
  if (
    !Number.isInteger(parsed.pid) ||
    parsed.state.length !== 1 ||
    !Number.isInteger(parsed.ppid) ||
    !Number.isFinite(parsed.startTicks)
  ) {
    throw new Error(`unexpected /proc/PID/stat format: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return parsed;
}

/** Reads the `btime` line of /proc/stat: boot time in whole seconds since the Unix epoch. */
export function readBootTime(): number {
  const text = fs.readFileSync('/proc/stat', 'latin1');
  const match = /^btime (\d+)$/m.exec(text);
  if (!match) throw new Error('no btime line in /proc/stat');
  return Number(match[1]);
}

/** Converts a start time in clock ticks since boot to a Date (precision: ±1 s, btime is whole seconds). */
export function ticksToDate(bootTimeSeconds: number, ticks: number): Date {
  return new Date(bootTimeSeconds * 1000 + Math.round((ticks * 1000) / CLK_TCK));
}

/** Splits /proc/PID/cmdline (NUL-separated, NUL-terminated) into argv. Empty for zombies and kernel threads. */
export function parseCmdline(buf: Buffer): string[] {
  if (buf.length === 0) return [];
  const text = buf.toString('utf8');
  const args = text.split('\0');
  if (args[args.length - 1] === '') args.pop();
  return args;
}

/** `pos` and `flags` of /proc/PID/fdinfo/N. */
export interface FdInfo {
  /** File offset in bytes. */
  pos: number;
  /** open(2) flags of the file description plus this descriptor's O_CLOEXEC; printed in octal by the kernel. */
  flags: number;
}

/** Parses /proc/PID/fdinfo/N (lines `pos:\t0`, `flags:\t02004002`, `mnt_id:\t..`, ...). */
export function parseFdinfo(text: string): FdInfo | null {
  const pos = /^pos:\s+(\d+)$/m.exec(text);
  const flags = /^flags:\s+([0-7]+)$/m.exec(text);
  if (!pos || !flags) return null;
  return { pos: Number(pos[1]), flags: parseInt(flags[1]!, 8) };
}

/** Major device number of a Linux dev_t (glibc encoding, as in Node's fs.Stats). */
export function major(dev: number): number {
  return Math.floor(dev / 256) % 4096 + (Math.floor(dev / 2 ** 32) & ~0xfff);
}

const ERRNO_DESCRIPTIONS: Record<string, string> = {
  ESRCH: 'no such process',
  ENOSYS: 'function not implemented',
};

/**
 * A SystemError (src/errors.ts, the posix layer's) shaped like Node's from
 * fs calls: `code` ('ESRCH'), `errno` (negative, as libuv reports it),
 * `syscall`, `path`, and a message `ESRCH: no such process, open
 * '/proc/123/stat'`.
 */
export function systemError(code: 'ESRCH', syscall: string, path: string): SystemError {
  const description = ERRNO_DESCRIPTIONS[code] ?? code;
  return new SystemError(`${code}: ${description}, ${syscall} '${path}'`, { code, errno: -(osConstants.errno[code] ?? 0), syscall, path });
}

/** The ENOSYS SystemError of a forkserve/observe call this platform cannot answer; `why` ends the message. */
export function enosys(call: string, why: string): SystemError {
  return new SystemError(`ENOSYS: forkserve/observe ${call}() ${why}`, { code: 'ENOSYS', errno: -(osConstants.errno.ENOSYS ?? 0), syscall: call });
}

/** True for the fs error codes that mean "the process (or its fd) is gone". */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

/** True for the fs error codes that mean "not allowed to look". */
export function isDenied(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EACCES' || code === 'EPERM';
}
