// The fork moment, as an observer sees it: the life of each connection a
// forking server accepts, from successive looks at its tree's descriptors.
//
//   1. accepted       only the parent (the root) holds the connected socket;
//   2. forked         the parent and a child hold it: one open file
//                     description, 2 references (fork(2) copies the table);
//   3. parent-closed  only the child holds it (1 reference);
//   4. child-exited   the socket is gone and the child is a zombie, its exit
//                     status kept until the parent waits for it;
//   5. reaped         the child is gone from /proc.
//
// Observed: which processes hold a descriptor of the socket (by its
// identity, the socket's inode) in each look, and the child's state. A stage
// shorter than the time between two looks is not seen: `forkserve APP
// --trace-forks` makes each last long enough (docs/lessons.md, "The fork
// moment"). A connection is followed only if it was first seen in the
// parent, and only sockets accepted from one of the parent's listening
// sockets count (same local port, or same path for AF_UNIX).
// Used by `forkserve watch` (watch.ts) and the status page (status-server.ts).

import { descriptors, processTree, type Descriptor, type DescriptorRef, type SocketInfo } from '../observe.js';
import { readZombieExitStatus, type ExitStatus } from './tracker.js';

/** A stage of a connection's life in a forking server, in order. */
export type ForkStage = 'accepted' | 'forked' | 'parent-closed' | 'child-exited' | 'reaped';

/**
 * The largest tree whose descriptors a fork-moment view reads on every
 * look: under load the stages last microseconds and cannot be seen; it is
 * a view for one connection at a time.
 */
export const TIMELINE_MAX_PROCESSES = 64;

/** descriptors(pid), or null for a zombie, a process gone meanwhile, or one not ours to read. */
export function descriptorsOrNull(pid: number, zombie: boolean): Descriptor[] | null {
  if (zombie) return null;
  try {
    return descriptors(pid);
  } catch {
    return null;
  }
}

/** The stages in their order. */
export const FORK_STAGES: readonly ForkStage[] = ['accepted', 'forked', 'parent-closed', 'child-exited', 'reaped'];

/** One stage, when it was first seen. */
export interface ForkStageSeen {
  stage: ForkStage;
  /** The look that first saw it. */
  at: Date;
  /** The descriptors of the socket in that look ([] once it is gone): their number is the reference count. */
  holders: DescriptorRef[];
  /** child-exited: the status read from /proc while the child was a zombie; null if it was not seen as one. */
  exitStatus: ExitStatus | null;
}

/** One connection the root accepted. */
export interface ForkConnection {
  /** The socket's identity ("device:inode", as Descriptor.identity). */
  socket: string;
  /** The client: `127.0.0.1:54321`, `[::1]:54321`, or `unix`. */
  peer: string;
  /** The child that held it, once one was seen. */
  child: number | null;
  /** The stages seen so far, in order; one may be missing when it was shorter than the time between looks. */
  stages: ForkStageSeen[];
}

/** What a look gives of one process. */
export interface TimelineProcess {
  pid: number;
  ppid: number;
  zombie: boolean;
  /** null for a zombie or when unreadable. */
  descriptors: Descriptor[] | null;
  exitStatus?: ExitStatus | null;
}

const CONNECTED_INET = new Set(['ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT1', 'FIN_WAIT2', 'CLOSING', 'LAST_ACK']);

function endpoint(s: SocketInfo): string {
  if (s.family === 'unix') return 'unix';
  return s.family === 'inet6' ? `[${s.remoteAddress}]:${s.remotePort}` : `${s.remoteAddress}:${s.remotePort}`;
}

/** Keys of the root's listening sockets: `tcp:PORT` and `unix:PATH`. */
function listenerKeys(root: TimelineProcess | undefined): Set<string> {
  const keys = new Set<string>();
  for (const d of root?.descriptors ?? []) {
    const s = d.socket;
    if (!s || s.state !== 'LISTEN') continue;
    if (s.family === 'unix') {
      if (s.path) keys.add(`unix:${s.path}`);
    } else if (s.protocol === 'tcp') keys.add(`tcp:${s.localPort}`);
  }
  return keys;
}

/** The listener key of a connected stream socket, else null. */
function connectionKey(d: Descriptor): string | null {
  const s = d.socket;
  if (!s) return null;
  if (s.family === 'unix') return s.protocol === 'stream' && s.state === 'CONNECTED' && s.path ? `unix:${s.path}` : null;
  return s.protocol === 'tcp' && CONNECTED_INET.has(s.state) ? `tcp:${s.localPort}` : null;
}

/**
 * Follows the connections a forking server (the process `rootPid`) accepts
 * through the stages of {@link ForkStage}, from successive looks.
 */
export class ForkTimeline {
  readonly rootPid: number;
  private readonly keep: number;
  private readonly maxProcesses: number;
  /** Newest first. */
  private records: Array<ForkConnection & { done: boolean }> = [];

  /**
   * @param rootPid - the forking server's parent.
   * @param opts.keep - how many connections to remember (default 8).
   * @param opts.maxProcesses - sample() reads no descriptors of a tree larger than this (default TIMELINE_MAX_PROCESSES).
   */
  constructor(rootPid: number, opts: { keep?: number; maxProcesses?: number } = {}) {
    this.rootPid = rootPid;
    this.keep = opts.keep ?? 8;
    this.maxProcesses = opts.maxProcesses ?? TIMELINE_MAX_PROCESSES;
  }

  /**
   * One look at the tree (processTree() and descriptors() of each process),
   * fed to observe(). Returns the connections, newest first.
   * @throws what processTree() throws (`ESRCH` when the root is gone, `ENOSYS` off Linux and macOS).
   */
  sample(): ForkConnection[] {
    const tree = processTree(this.rootPid);
    if (tree.length > this.maxProcesses) return this.connections();
    const looked = tree.map((p) => ({
      pid: p.pid, ppid: p.ppid, zombie: p.zombie, descriptors: descriptorsOrNull(p.pid, p.zombie), exitStatus: p.zombie ? readZombieExitStatus(p.pid) : null,
    }));
    return this.observe(new Date(), looked);
  }

  /** Feeds one look taken elsewhere (the root first or anywhere in `processes`). Returns the connections, newest first. */
  observe(at: Date, processes: TimelineProcess[]): ForkConnection[] {
    const byPid = new Map(processes.map((p) => [p.pid, p]));
    const listeners = listenerKeys(byPid.get(this.rootPid));
    // The connected sockets accepted from the root's listeners, and who holds them.
    const held = new Map<string, { peer: string; holders: DescriptorRef[] }>();
    for (const p of processes) {
      for (const d of p.descriptors ?? []) {
        const key = connectionKey(d);
        if (!key || !listeners.has(key)) continue;
        let h = held.get(d.identity);
        if (!h) held.set(d.identity, (h = { peer: endpoint(d.socket!), holders: [] }));
        h.holders.push({ pid: p.pid, fd: d.fd });
      }
    }

    for (const [socket, { peer, holders }] of held) {
      let rec = this.records.find((r) => r.socket === socket && !r.done);
      const rootHolds = holders.some((h) => h.pid === this.rootPid);
      const others = [...new Set(holders.filter((h) => h.pid !== this.rootPid).map((h) => h.pid))];
      if (!rec) {
        if (!rootHolds) continue; // accepted by a worker, or its first stages were missed
        rec = { socket, peer, child: null, stages: [], done: false };
        this.records.unshift(rec);
      }
      if (rootHolds && others.length === 0) this.add(rec, 'accepted', at, holders);
      else if (rootHolds) {
        rec.child ??= others[0]!;
        this.add(rec, 'forked', at, holders);
      } else if (rec.child === null || others.includes(rec.child)) {
        rec.child ??= others[0]!;
        this.add(rec, 'parent-closed', at, holders);
      }
    }

    for (const rec of this.records) {
      if (rec.done || held.has(rec.socket)) continue;
      if (rec.child === null) {
        rec.done = true; // closed by the parent before any child was seen
        continue;
      }
      const child = byPid.get(rec.child);
      if (child?.zombie) this.add(rec, 'child-exited', at, [], child.exitStatus ?? null);
      else if (!child) {
        this.add(rec, 'child-exited', at, [], null);
        this.add(rec, 'reaped', at, []);
        rec.done = true;
      }
    }
    this.records = this.records.slice(0, this.keep);
    return this.connections();
  }

  /** The connections followed so far, newest first. */
  connections(): ForkConnection[] {
    return this.records.map(({ done: _done, ...r }) => ({ ...r, stages: [...r.stages] }));
  }

  private add(rec: ForkConnection, stage: ForkStage, at: Date, holders: DescriptorRef[], exitStatus: ExitStatus | null = null): void {
    const seen = rec.stages.find((s) => s.stage === stage);
    if (seen) {
      // A zombie's status may be read only in a later look than the one that first saw it.
      if (stage === 'child-exited' && !seen.exitStatus && exitStatus) seen.exitStatus = exitStatus;
      return;
    }
    rec.stages.push({ stage, at, holders, exitStatus });
  }
}

/** One line per connection, for `forkserve watch`: `127.0.0.1:5555 child 7177: accepted 06:24:04.1, forked +0.4 s (2 references), ...`. */
export function describeForkConnection(c: ForkConnection): string {
  const t0 = c.stages[0]?.at.getTime() ?? 0;
  const parts = c.stages.map((s, i) => {
    const when = i === 0 ? s.at.toTimeString().slice(0, 8) : `+${((s.at.getTime() - t0) / 1000).toFixed(1)} s`;
    const refs = s.holders.length ? ` (${s.holders.length} reference${s.holders.length > 1 ? 's' : ''})` : '';
    const exit = s.stage === 'child-exited' && s.exitStatus ? `, ${s.exitStatus.exited ? `exited ${s.exitStatus.exitCode}` : `killed by ${s.exitStatus.signal}`}, a zombie` : '';
    return `${STAGE_LABELS[s.stage]} ${when}${refs}${exit}`;
  });
  return `${c.peer}${c.child ? ` child ${c.child}` : ''}: ${parts.join(', ')}`;
}

/** How each stage reads in the views. */
export const STAGE_LABELS: Record<ForkStage, string> = {
  accepted: 'accepted',
  forked: 'forked',
  'parent-closed': 'parent closed',
  'child-exited': 'child exited',
  reaped: 'reaped',
};
