/**
 * The status server's /metrics: what the observer sees of a server's
 * process tree, in the Prometheus text exposition format (version 0.0.4;
 * checked with `promtool check metrics` in test/status-page.test.ts):
 *   forkserve_processes{role}            master 1, workers/children alive (zombies apart)
 *   forkserve_zombies                    children that exited and wait to be reaped
 *   forkserve_resident_memory_bytes{pid,role}  each process's RSS (/proc/PID/statm, proc_pidinfo)
 *   forkserve_listen_queue_length{listener}    connections waiting in a listening socket's accept queue
 *   forkserve_children_seen_gone_total   children the observer saw exit since it started
 * Per-request figures (requests by status, reaps by the master's reason)
 * are the master's to count, not the observer's: not here yet.
 */
import { native } from '../native.js';
import type { Descriptor, InetSocketInfo, ProcessInfo } from '../observe.js';

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
  return (native.residentBytes as (pid: number) => number | null)(pid) ?? undefined;
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

/** The /metrics body for one snapshot. */
export function renderMetrics(s: MetricsInput): string {
  const role = (p: ProcessInfo) => (p.pid === s.pid ? 'master' : p.depth === 1 ? 'worker' : 'descendant');
  const alive = s.processes.filter((p) => !p.zombie);
  const queues: Array<[Record<string, string>, InetSocketInfo['acceptQueue'] & object]> = [];
  const master = s.processes.find((p) => p.pid === s.pid);
  for (const d of master?.descriptors ?? []) {
    const sock = d.socket as InetSocketInfo | undefined;
    if (!sock?.acceptQueue) continue;
    const host = sock.family === 'inet6' ? `[${sock.localAddress}]` : sock.localAddress;
    queues.push([{ listener: `${host}:${sock.localPort}` }, sock.acceptQueue]);
  }
  const families = [
    family('forkserve_processes', 'gauge', 'Processes of the server alive now, by role (master, worker or fork child, their descendants).', [
      [{ role: 'master' }, alive.filter((p) => role(p) === 'master').length],
      [{ role: 'worker' }, alive.filter((p) => role(p) === 'worker').length],
      [{ role: 'descendant' }, alive.filter((p) => role(p) === 'descendant').length],
    ]),
    family('forkserve_zombies', 'gauge', 'Children that exited and were not reaped yet.', [[{}, s.counts.zombies]]),
    family('forkserve_resident_memory_bytes', 'gauge', 'Resident set size of each live process, shared pages included (/proc/PID/statm).',
      alive.flatMap((p) => {
        const rss = residentBytes(p.pid);
        return rss === undefined ? [] : [[{ pid: p.pid, role: role(p) }, rss] as [Record<string, string | number>, number]];
      })),
    family('forkserve_listen_queue_length', 'gauge', 'Connections waiting in a listening socket\'s accept queue.', queues.map(([l, q]) => [l, q.length])),
    family('forkserve_children_seen_gone_total', 'counter', 'Children the observer saw exit since it started.', [[{}, s.goneTotal]]),
  ];
  return families.join('\n') + '\n';
}
