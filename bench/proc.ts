/**
 * A server's process tree read from /proc (Linux): the processes, their CPU
 * time, resident memory, states and ages. Shared by bench/run.ts and
 * bench/soak.ts.
 */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second (USER_HZ) for /proc/PID/stat times; 100 on Linux almost everywhere. */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

export interface Stat {
  pid: number;
  state: string;
  ppid: number;
  /** Fields 14-17 of /proc/PID/stat, in clock ticks. */
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  /** Field 22: start time in clock ticks after boot. */
  starttime: number;
}

/** /proc/PID/stat, or null if the process is gone. */
export function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): field n is f[n - 3].
  return {
    pid,
    state: f[0],
    ppid: Number(f[1]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    cutime: Number(f[13]),
    cstime: Number(f[14]),
    starttime: Number(f[19]),
  };
}

/** Direct children of pid (every thread's children file), [] if it is gone. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) for (const c of text.split(/\s+/)) out.push(Number(c));
    } catch {
      // the thread or process went away
    }
  }
  return out;
}

/** pid and all its descendants, parents first. */
export function treePids(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 100_000; i++) out.push(...childPids(out[i]));
  return out;
}

/** VmRSS in KiB (0 for a zombie or a process that is gone). */
export function rssKiB(pid: number): number {
  return readStatus(pid).rssKiB;
}

/** From /proc/PID/status: VmRSS in KiB and context switches (voluntary + involuntary); zeros if it is gone. */
export function readStatus(pid: number): { rssKiB: number; switches: number } {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rssKiB: 0, switches: 0 };
  }
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  const v = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(text);
  const nv = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text);
  return { rssKiB: rss ? Number(rss[1]) : 0, switches: Number(v?.[1] ?? 0) + Number(nv?.[1] ?? 0) };
}

/**
 * CPU time of a process tree in clock ticks: utime + stime + cutime + cstime
 * of every live process in it. cutime/cstime hold the times of reaped
 * children (and, recursively, of what they reaped), so children that came
 * and went between two readings are counted through their parent. Read it
 * when the tree is quiet (no child between exit and reap).
 */
export function treeCpuTicks(pid: number): number {
  let sum = 0;
  for (const p of treePids(pid)) {
    const s = readStat(p);
    if (s) sum += s.utime + s.stime + s.cutime + s.cstime;
  }
  return sum;
}

/** Number of open descriptors of pid (entries of /proc/PID/fd), -1 if it is gone. */
export function fdCount(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return -1;
  }
}

/** Seconds since boot (the clock of Stat.starttime), from /proc/uptime. */
export function uptimeSeconds(): number {
  return Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

export interface TreeSample {
  /** Milliseconds since the sampler started. */
  t: number;
  processes: number;
  rssKiB: number;
  topRssKiB: number;
  zombies: number;
}

/** A process as the sampler saw it: its stat, resident memory and context switches. */
export interface ProcSample extends Stat {
  rssKiB: number;
  switches: number;
}

/**
 * Samples a process tree every intervalMs: summed VmRSS, process count,
 * zombies. `onSample` sees each process (the soak tracks lifetimes and
 * progress with it). Bounded: stop() ends it, and it stops by itself after maxMs.
 */
export class TreeSampler {
  peakRssKiB = 0;
  peakTopRssKiB = 0;
  peakProcesses = 0;
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
    private readonly onSample?: (procs: ProcSample[], sample: TreeSample) => void,
    maxMs = 15 * 60_000,
  ) {
    this.sample();
    this.timer = setInterval(() => {
      if (Date.now() - this.started > maxMs) this.stop();
      else this.sample();
    }, intervalMs);
  }

  sample(): TreeSample {
    const pids = treePids(this.pid);
    const stats: ProcSample[] = [];
    let rss = 0;
    let zombies = 0;
    let top = 0;
    for (const p of pids) {
      const s = readStat(p);
      if (!s) continue;
      const st = readStatus(p);
      stats.push({ ...s, ...st });
      if (s.state === 'Z') zombies++;
      if (p === this.pid) top = st.rssKiB;
      rss += st.rssKiB;
    }
    this.samples++;
    const sample: TreeSample = { t: Date.now() - this.started, processes: stats.length, rssKiB: rss, topRssKiB: top, zombies };
    this.peakRssKiB = Math.max(this.peakRssKiB, rss);
    this.peakTopRssKiB = Math.max(this.peakTopRssKiB, top);
    this.peakProcesses = Math.max(this.peakProcesses, stats.length);
    this.onSample?.(stats, sample);
    return sample;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits (bounded) until cond() holds; returns whether it did. */
export async function waitUntil(cond: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
