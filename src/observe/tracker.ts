// Successive snapshots of one process tree, and what can be inferred from
// their differences: which children disappeared (were reaped) between two
// looks, and, for those last seen as zombies, their exit status.
// Shared by `forkserve watch` (watch.ts) and the status page (status-server.ts).
//
// What is observed and what is inferred:
// - The tree, states and descriptor counts are read (processTree()).
// - A zombie's exit status is read from field 52 of /proc/PID/stat
//   (exit_code, Linux >= 3.5), the raw wait status the parent's wait() will
//   get. Readable while the zombie exists; once it is reaped it is gone.
// - "Reaped" is inferred: a descendant present in one snapshot and absent from
//   /proc in the next has exited and been waited for, by its parent or,
//   if the parent died first, by whoever adopted it.
// - A child that both starts and ends between two snapshots is never seen.

import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { processTree, type ProcessInfo } from '../observe.js';
import { darwinZombieStatus } from './darwin.js';
import { isGone, parseStat, readBootTime, ticksToDate } from './procfs.js';

/** A wait(2) status, decoded as waitpid() would report it. */
export interface ExitStatus {
  /** WIFEXITED. */
  exited: boolean;
  /** WEXITSTATUS, when `exited`. */
  exitCode: number | null;
  /** WIFSIGNALED. */
  signaled: boolean;
  /** Name of WTERMSIG (`SIGKILL`), when `signaled`. */
  signal: string | null;
  /** WCOREDUMP. */
  coreDumped: boolean;
  /** The raw status word. */
  raw: number;
}

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, num]) => [num as number, name]),
);

/** Decodes a raw wait status (the `int` of wait(2)) the way the W* macros do. */
export function decodeWaitStatus(raw: number): ExitStatus {
  const sig = raw & 0x7f;
  if (sig === 0) {
    return { exited: true, exitCode: (raw >> 8) & 0xff, signaled: false, signal: null, coreDumped: false, raw };
  }
  return {
    exited: false,
    exitCode: null,
    signaled: sig !== 0x7f,
    signal: SIGNAL_NAMES.get(sig) ?? `signal ${sig}`,
    coreDumped: (raw & 0x80) !== 0,
    raw,
  };
}

/** `exited 0`, `killed by SIGSEGV (core dumped)`. */
export function describeExit(st: ExitStatus): string {
  if (st.exited) return `exited ${st.exitCode}`;
  if (st.signaled) return `killed by ${st.signal}${st.coreDumped ? ' (core dumped)' : ''}`;
  return `status 0x${st.raw.toString(16)}`;
}

/**
 * The exit status of zombie `pid`, from field 52 (exit_code) of
 * /proc/PID/stat on Linux; on macOS, pbi_xstatus as the last processTree()
 * saw it. null if it is not a zombie (any more), on kernels without the
 * field, and elsewhere. The kernel prints 0 there for a process you may not
 * ptrace-read (another user's), so this is only asked for descendants of a
 * process you could already inspect.
 */
export function readZombieExitStatus(pid: number): ExitStatus | null {
  if (process.platform === 'darwin') {
    const raw = darwinZombieStatus(pid);
    return raw === null ? null : decodeWaitStatus(raw);
  }
  if (process.platform !== 'linux') return null;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).trimEnd().split(' ');
  if (fields[0] !== 'Z' || fields.length < 52 - 2) return null;
  const raw = Number(fields[52 - 3]);
  return Number.isInteger(raw) ? decodeWaitStatus(raw) : null;
}

/** A process of one snapshot: ProcessInfo plus, for a zombie, the exit status its parent has not collected yet. */
export interface TrackedProcess extends ProcessInfo {
  exitStatus: ExitStatus | null;
}

/** A descendant that was in one snapshot and is not in the next. */
export interface GoneProcess {
  pid: number;
  /** Its parent when last seen. */
  ppid: number;
  command: string;
  args: string[];
  depth: number;
  startTime: Date;
  /** Its state letter when last seen. */
  lastState: string;
  /** When it was last seen, and when it was noticed gone. */
  lastSeen: Date;
  noticedAt: Date;
  /**
   * - `reaped-zombie`: last seen as a zombie, now gone from /proc: its parent (or adopter) waited for it;
   *   `exitStatus` is the status read while it was a zombie.
   * - `seen-gone`: last seen alive, now gone from /proc: it exited and was reaped between two looks;
   *   its exit status was never observable.
   * - `left-tree`: still exists, but its parent died and it was adopted outside the tree (reparented to `adoptedBy`).
   */
  how: 'reaped-zombie' | 'seen-gone' | 'left-tree';
  exitStatus: ExitStatus | null;
  adoptedBy: number | null;
}

/** One look at the tree. */
export interface TreeSnapshot {
  pid: number;
  time: Date;
  /** The root has exited (or its pid now belongs to another process): `processes` is empty. */
  gone: boolean;
  /** Pre-order, root first (depth 0); observer processes and their subtrees left out. */
  processes: TrackedProcess[];
  /** Direct children of the root. */
  children: number;
  /** All processes under the root. */
  descendants: number;
  /** Zombies under the root. */
  zombies: number;
  /** Descendants noticed gone in this look (newest first). */
  newlyGone: GoneProcess[];
  /** The last `keep` descendants noticed gone (newest first). */
  recentlyGone: GoneProcess[];
  /** Observer pids (this process) that were found in the tree and left out of it, with their subtrees. */
  excluded: number[];
}

/** How a reaped/gone descendant reads, with what is inferred said so. */
export function describeGone(g: GoneProcess): string {
  switch (g.how) {
    case 'reaped-zombie':
      return g.exitStatus
        ? `reaped after being a zombie; ${describeExit(g.exitStatus)} (status read from /proc while it was a zombie)`
        : 'reaped after being a zombie; exit status not readable';
    case 'seen-gone':
      return `exited (seen gone): last seen ${g.lastState}, exit status not observed`;
    case 'left-tree':
      return `left the tree: its parent exited and it was adopted by ${g.adoptedBy}`;
  }
}

interface Seen {
  info: TrackedProcess;
  at: Date;
}

/** Keeps the last snapshot of a tree and diffs each new one against it. */
export class TreeTracker {
  readonly pid: number;
  private readonly exclude: Set<number>;
  private readonly keep: number;
  private rootStart: number | null = null;
  private last = new Map<number, Seen>();
  private recent: GoneProcess[] = [];
  private bootTime: number | null = null;
  private isGone = false;

  /**
   * @param pid - the root of the tree.
   * @param opts.exclude - pids left out with their subtrees (observers). Default: this process.
   * @param opts.keep - how many gone descendants to remember. Default 10.
   */
  constructor(pid: number, opts: { exclude?: number[]; keep?: number } = {}) {
    this.pid = pid;
    this.exclude = new Set(opts.exclude ?? [process.pid]);
    this.keep = opts.keep ?? 10;
  }

  /** True once the root has been seen gone. */
  get rootGone(): boolean {
    return this.isGone;
  }

  /**
   * Takes one snapshot. Throws what processTree() throws, except ESRCH for the
   * root after it has once been seen (that is `gone: true`). A first look at
   * a pid that does not exist throws ESRCH.
   */
  sample(): TreeSnapshot {
    const time = new Date();
    let tree: ProcessInfo[] | null = null;
    if (!this.isGone) {
      try {
        tree = processTree(this.pid);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH' || this.rootStart === null) throw err;
      }
      // Same pid, other start time: the root exited and its pid was reused.
      if (tree && this.rootStart !== null && tree[0]!.startTime.getTime() !== this.rootStart) tree = null;
      if (tree && this.rootStart === null) this.rootStart = tree[0]!.startTime.getTime();
      if (!tree) this.isGone = true;
    }
    const excluded: number[] = [];
    const processes = tree ? this.withoutExcluded(tree, excluded).map((p) => ({ ...p, exitStatus: p.zombie ? readZombieExitStatus(p.pid) : null })) : [];

    const now = new Map<number, Seen>();
    for (const p of processes) now.set(p.pid, { info: p, at: time });
    const newlyGone: GoneProcess[] = [];
    if (!this.isGone) {
      for (const [pid, seen] of this.last) {
        if (now.has(pid) || seen.info.depth === 0) continue;
        newlyGone.push(this.classifyGone(seen, time));
      }
    }
    // Keep zombies' statuses across looks: a zombie's status can only be read while it is one.
    for (const [pid, seen] of now) {
      const before = this.last.get(pid);
      if (seen.info.zombie && !seen.info.exitStatus && before?.info.exitStatus) seen.info.exitStatus = before.info.exitStatus;
    }
    this.last = now;
    newlyGone.sort((a, b) => b.lastSeen.getTime() - a.lastSeen.getTime() || b.pid - a.pid);
    this.recent = [...newlyGone, ...this.recent].slice(0, this.keep);

    const descendants = processes.filter((p) => p.depth > 0);
    return {
      pid: this.pid,
      time,
      gone: this.isGone,
      processes,
      children: descendants.filter((p) => p.depth === 1).length,
      descendants: descendants.length,
      zombies: descendants.filter((p) => p.zombie).length,
      newlyGone,
      recentlyGone: [...this.recent],
      excluded,
    };
  }

  private withoutExcluded(tree: ProcessInfo[], excluded: number[]): ProcessInfo[] {
    const out: ProcessInfo[] = [];
    let skipBelow = -1; // depth of an excluded subtree's root, while inside it
    for (const p of tree) {
      if (skipBelow >= 0 && p.depth > skipBelow) continue;
      skipBelow = -1;
      if (p.depth > 0 && this.exclude.has(p.pid)) {
        skipBelow = p.depth;
        excluded.push(p.pid);
        continue;
      }
      out.push(p);
    }
    return out;
  }

  private classifyGone(seen: Seen, noticedAt: Date): GoneProcess {
    const p = seen.info;
    const base = {
      pid: p.pid,
      ppid: p.ppid,
      command: p.command,
      args: p.args,
      depth: p.depth,
      startTime: p.startTime,
      lastState: p.state,
      lastSeen: seen.at,
      noticedAt,
      exitStatus: null,
      adoptedBy: null,
    };
    const adopter = this.adoptedBy(p);
    if (adopter !== null) return { ...base, how: 'left-tree', adoptedBy: adopter };
    if (p.zombie) return { ...base, how: 'reaped-zombie', exitStatus: p.exitStatus };
    return { ...base, how: 'seen-gone' };
  }

  /** If `p` still exists (same start time) under another parent, that parent; else null. */
  private adoptedBy(p: ProcessInfo): number | null {
    if (process.platform !== 'linux') return null;
    try {
      const stat = parseStat(fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8'));
      this.bootTime ??= readBootTime();
      const same = ticksToDate(this.bootTime, stat.startTicks).getTime() === p.startTime.getTime();
      return same && stat.ppid !== p.ppid ? stat.ppid : null;
    } catch (err) {
      if (isGone(err)) return null;
      return null;
    }
  }
}
