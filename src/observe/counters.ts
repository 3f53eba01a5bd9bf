/**
 * The server's own counters, as an observer reads them: requests by status
 * class, reaps by reason, timeouts. The master keeps them in a memfd it
 * shares with every process it forks (native/engine/counters.h has the
 * layout); the observer finds the master's descriptor of
 * `/memfd:forkserve-counters` and reads the region through /proc/PID/fd/N,
 * which takes the same permission as reading the master's descriptors.
 * Linux only: elsewhere there is nothing to find (null).
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Descriptor } from '../observe.js';
import type { ReapReason } from '../native.js';

/** The memfd's name as readlink(2) of /proc/PID/fd/N shows it. */
const MEMFD_TARGET = '/memfd:forkserve-counters';
const MAGIC = 0x31544e554f435346n; // "FSCOUNT1"
const LAYOUT_VERSION = 1n;
const STATUS_SLOT = 2;
const REAP_SLOT = 8;
const TIMEOUT_SLOT = 14;
const SLOTS = 15;

/** Status classes, in slot order: other (below 100 or from 600), then 1xx to 5xx. */
export const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
/** Reap reasons, in slot order (engine::counters::Reap). */
export const REAP_REASONS: readonly ReapReason[] = ['exited', 'failed', 'timeout', 'memory', 'oom', 'signal'];

/** The counters since the master started. */
export interface ServerCounters {
  /** Responses sent, by status class (the head was written; error responses of the HTTP core included). */
  responses: Record<(typeof STATUS_CLASSES)[number], number>;
  /** Workers and fork children reaped, by reason. */
  reaps: Record<ReapReason, number>;
  /** Requests answered 503 (or ended) for running past --timeout. */
  timeouts: number;
}

/**
 * Reads the counters of master `pid`, whose descriptors are `list`
 * (descriptors(pid)). Returns null when it holds no counters region (not a
 * forkserve master, the node engine, macOS) or the region cannot be read
 * (gone, EACCES) or has another layout.
 */
export function readServerCounters(pid: number, list: Descriptor[]): ServerCounters | null {
  const d = list.find((x) => x.target.startsWith(MEMFD_TARGET));
  if (!d) return null;
  let buf: Buffer;
  try {
    buf = fs.readFileSync(`/proc/${pid}/fd/${d.fd}`);
  } catch {
    return null;
  }
  if (buf.length < SLOTS * 8) return null;
  const le = os.endianness() === 'LE';
  const slot = (i: number) => (le ? buf.readBigUInt64LE(i * 8) : buf.readBigUInt64BE(i * 8));
  if (slot(0) !== MAGIC || slot(1) !== LAYOUT_VERSION) return null;
  const n = (i: number) => Number(slot(i));
  return {
    responses: Object.fromEntries(STATUS_CLASSES.map((c, i) => [c, n(STATUS_SLOT + i)])) as ServerCounters['responses'],
    reaps: Object.fromEntries(REAP_REASONS.map((r, i) => [r, n(REAP_SLOT + i)])) as ServerCounters['reaps'],
    timeouts: n(TIMEOUT_SLOT),
  };
}
