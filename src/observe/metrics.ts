/**
 * The status server's /metrics: what the observer sees of a server's
 * process tree, and the master's own counters, in the Prometheus text
 * exposition format (version 0.0.4; checked with `promtool check metrics`
 * in test/status-page.test.ts):
 *   forkserve_processes{role}            master 1, workers/children alive (zombies apart)
 *   forkserve_zombies                    children that exited and wait to be reaped
 *   forkserve_resident_memory_bytes{pid,role}  each process's RSS (/proc/PID/statm, proc_pidinfo)
 *   forkserve_listen_queue_length{listener}    connections waiting in a listening socket's accept queue
 *   forkserve_children_seen_gone_total   children the observer saw exit since it started
 * and, read from the master's counters (counters.ts; not for the node engine, not on macOS):
 *   forkserve_http_responses_total{code}  responses sent, by status class (1xx .. 5xx, other)
 *   forkserve_reaps_total{reason}         workers and fork children reaped: exited, failed, timeout, memory, oom, signal
 *   forkserve_request_timeouts_total      requests that ran past --timeout (answered 503 when nothing was sent)
 */
import { native } from '../native.js';
import type { Descriptor, InetSocketInfo, ProcessInfo } from '../observe.js';
import { readServerCounters, REAP_REASONS, STATUS_CLASSES, type ServerCounters } from './counters.js';

/** What renderMetrics needs of a status snapshot. */
export interface MetricsInput {
  pid: number;
  processes: Array<ProcessInfo & { descriptors: Descriptor[] | null }>;
  counts: { children: number; zombies: number };
  /** Children seen exiting since the observer started. */
  goneTotal: number;
}

/** A label value, escaped as the text format wants (backslash, quote, newline). */
const label = (v: string | number) => String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Resident bytes (posix::ResidentBytes: /proc/PID/statm, proc_pidinfo on macOS), or undefined when gone. */
function residentBytes(pid: number): number | undefined {
  return native.residentBytes(pid) ?? undefined;
}

/** One metric family: HELP, TYPE, then its samples. */
function family(name: string, type: 'gauge' | 'counter', help: string, samples: Array<[labels: Record<string, string | number>, value: number]>): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',');
    lines.push(`${name}${l ? `{${l}}` : ''} ${value}`);
  }
  return lines.join('\n');
}

type Role = 'master' | 'worker' | 'descendant';

/** A process's role in the tree under rootPid: the master, its direct children (workers, fork children), the rest. */
const roleOf = (rootPid: number, p: ProcessInfo): Role => (p.pid === rootPid ? 'master' : p.depth === 1 ? 'worker' : 'descendant');

/** What /metrics and `forkserve watch`'s figures line show, from one look at the tree. */
export interface TreeFigures {
  /** Each live process's resident set (bytes) and role. */
  rss: Array<{ pid: number; role: Role; bytes: number }>;
  /** The accept queue of each TCP listening socket the root holds. */
  queues: Array<{ listener: string; length: number }>;
  /** The master's counters, when the root keeps them and they can be read. */
  counters: ServerCounters | null;
}

/** The figures of a tree whose root is `rootPid` (its descriptors, when read, give the listening sockets). */
export function treeFigures(rootPid: number, processes: Array<ProcessInfo & { descriptors?: Descriptor[] | null }>): TreeFigures {
  const role = (p: ProcessInfo) => roleOf(rootPid, p);
  const rss: TreeFigures['rss'] = [];
  for (const p of processes) {
    if (p.zombie) continue;
    const bytes = residentBytes(p.pid);
    if (bytes !== undefined) rss.push({ pid: p.pid, role: role(p), bytes });
  }
  const queues: TreeFigures['queues'] = [];
  const rootDescriptors = processes.find((p) => p.pid === rootPid)?.descriptors ?? [];
  for (const d of rootDescriptors) {
    const sock = d.socket as InetSocketInfo | undefined;
    if (!sock?.acceptQueue) continue;
    const host = sock.family === 'inet6' ? `[${sock.localAddress}]` : sock.localAddress;
    queues.push({ listener: `${host}:${sock.localPort}`, length: sock.acceptQueue.length });
  }
  return { rss, queues, counters: readServerCounters(rootPid, rootDescriptors) };
}

/** One line of the figures, for `forkserve watch`: `RSS master 70 MiB, 2 workers 132 MiB   accept queue 127.0.0.1:8888 0   responses 2xx 120   reaped exited 118   timeouts 0`. */
export function figuresLine(f: TreeFigures): string {
  const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
  const sum = (r: Role) => f.rss.filter((x) => x.role === r).reduce((a, x) => a + x.bytes, 0);
  const count = (r: Role) => f.rss.filter((x) => x.role === r).length;
  const parts = [`master ${mib(sum('master'))}`];
  if (count('worker')) parts.push(`${count('worker')} worker${count('worker') > 1 ? 's' : ''} ${mib(sum('worker'))}`);
  if (count('descendant')) parts.push(`${count('descendant')} more ${mib(sum('descendant'))}`);
  const queues = f.queues.map((q) => `${q.listener} ${q.length}`).join(', ');
  let counted = '';
  if (f.counters) {
    const nonzero = (o: Record<string, number>) => Object.entries(o).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
    counted = `   responses ${nonzero(f.counters.responses) || '0'}   reaped ${nonzero(f.counters.reaps) || '0'}   timeouts ${f.counters.timeouts}`;
  }
  return `RSS ${parts.join(', ')}${queues ? `   accept queue ${queues}` : ''}${counted}`;
}

/** The /metrics body for one snapshot. */
export function renderMetrics(s: MetricsInput): string {
  const role = (p: ProcessInfo) => roleOf(s.pid, p);
  const alive = s.processes.filter((p) => !p.zombie);
  const figures = treeFigures(s.pid, s.processes);
  const families = [
    family('forkserve_processes', 'gauge', 'Processes of the server alive now, by role (master, worker or fork child, their descendants).', [
      [{ role: 'master' }, alive.filter((p) => role(p) === 'master').length],
      [{ role: 'worker' }, alive.filter((p) => role(p) === 'worker').length],
      [{ role: 'descendant' }, alive.filter((p) => role(p) === 'descendant').length],
    ]),
    family('forkserve_zombies', 'gauge', 'Children that exited and were not reaped yet.', [[{}, s.counts.zombies]]),
    family('forkserve_resident_memory_bytes', 'gauge', 'Resident set size of each live process, shared pages included (/proc/PID/statm).',
      figures.rss.map((r) => [{ pid: r.pid, role: r.role }, r.bytes])),
    family('forkserve_listen_queue_length', 'gauge', 'Connections waiting in a listening socket\'s accept queue.', figures.queues.map((q) => [{ listener: q.listener }, q.length])),
    family('forkserve_children_seen_gone_total', 'counter', 'Children the observer saw exit since it started.', [[{}, s.goneTotal]]),
  ];
  const c = figures.counters;
  if (c) {
    families.push(
      family('forkserve_http_responses_total', 'counter', 'Responses sent since the master started, by status class.', STATUS_CLASSES.map((k) => [{ code: k }, c.responses[k]])),
      family('forkserve_reaps_total', 'counter', 'Workers and fork children reaped since the master started, by reason.', REAP_REASONS.map((r) => [{ reason: r }, c.reaps[r]])),
      family('forkserve_request_timeouts_total', 'counter', 'Requests that ran past --timeout since the master started.', [[{}, c.timeouts]]),
    );
  }
  return families.join('\n') + '\n';
}
