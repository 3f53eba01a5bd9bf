// Rendering for the CLI command `forkserve ps PID [--json]`.

import { sharedAcrossProcesses } from './group.js';
import {
  descriptors,
  processTree,
  type Descriptor,
  type DescriptorRef,
  type ProcessInfo,
} from '../observe.js';

/** One process of the `--json` output: a {@link ProcessInfo} plus its descriptors. */
export interface PsProcess extends ProcessInfo {
  /** `null` for a zombie, for a process whose descriptors may not be read, and for one that exited meanwhile. */
  descriptors: Descriptor[] | null;
}

/** The `--json` document (dates as ISO 8601 strings once serialized). */
export interface PsReport {
  pid: number;
  processes: PsProcess[];
  /**
   * Open file descriptions held by two or more processes of the tree (see
   * sharedAcrossProcesses(): the standard streams and /dev/null left out
   * unless `all`); processes whose descriptors are unreadable are left out.
   */
  shared: Array<{ identity: string; refs: DescriptorRef[] }>;
}

const STATE_NAMES: Record<string, string> = {
  R: 'running',
  S: 'sleeping',
  D: 'disk sleep',
  Z: 'zombie',
  T: 'stopped',
  t: 'tracing stop',
  X: 'dead',
  I: 'idle',
  P: 'parked',
  W: 'waking',
  K: 'wakekill',
  x: 'dead',
};

/** `Z (zombie)`, `S (sleeping)`, ... */
export function stateLabel(state: string): string {
  const name = STATE_NAMES[state];
  return name ? `${state} (${name})` : state;
}

function descriptorsOrNull(p: ProcessInfo): Descriptor[] | null {
  if (p.zombie) return null;
  try {
    return descriptors(p.pid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') return null;
    throw err;
  }
}

/** Collects the data of `forkserve ps PID`; `all` keeps the standard streams and /dev/null among the shared. */
export function psReport(pid: number, opts: { all?: boolean } = {}): PsReport {
  const tree = processTree(pid);
  const processes = tree.map((p) => ({ ...p, descriptors: descriptorsOrNull(p) }));
  // Grouped from the descriptors read above (not sharedDescriptors(), which
  // throws on a process whose descriptors may not be read).
  const groups = sharedAcrossProcesses(processes.map((p): [number, Descriptor[]] => [p.pid, p.descriptors ?? []]), opts);
  const shared = [...groups].map(([identity, refs]) => ({ identity, refs }));
  return { pid, processes, shared };
}

function table(rows: string[][], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      (indent + row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).trimEnd(),
    )
    .join('\n');
}

function commandLine(p: ProcessInfo): string {
  const cmd = p.args.length > 0 ? p.args.join(' ') : `[${p.command}]`;
  const branch = p.depth > 0 ? '  '.repeat(p.depth - 1) + '\\_ ' : '';
  return branch + cmd + (p.zombie ? ' <defunct>' : '');
}

function started(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function endpoint(address: string, port: number, family: string): string {
  return family === 'inet6' ? `[${address}]:${port}` : `${address}:${port}`;
}

function details(d: Descriptor): string {
  const s = d.socket;
  if (s?.family === 'unix') return `unix ${s.protocol} ${s.path ?? '(unnamed)'} ${s.state}`;
  if (s) {
    const proto = s.family === 'inet6' ? `${s.protocol}6` : s.protocol;
    const local = endpoint(s.localAddress, s.localPort, s.family);
    const remote = s.remotePort !== 0 ? ` -> ${endpoint(s.remoteAddress, s.remotePort, s.family)}` : '';
    return `${proto} ${local}${remote} ${s.state}`;
  }
  if (d.type === 'file' && d.pos !== null) return `${d.target} (pos ${d.pos})`;
  return d.target;
}

const ACCESS: Record<string, string> = { read: 'r', write: 'w', 'read-write': 'rw' };

/** Sockets first (listening, then connected), then the rest, each in fd order. */
function rank(d: Descriptor): number {
  if (d.socket?.state === 'LISTEN') return 0;
  return d.socket ? 1 : 2;
}

/** The standard streams and /dev/null, folded in the text view unless --all. */
const folded = (d: Descriptor) => d.fd <= 2 || d.target === '/dev/null';

function renderText(report: PsReport, all: boolean): string {
  const out: string[] = [];
  out.push(
    table([
      ['PID', 'PPID', 'STATE', 'STARTED', 'FDS', 'COMMAND'],
      ...report.processes.map((p) => [
        String(p.pid),
        String(p.ppid),
        stateLabel(p.state),
        started(p.startTime),
        p.descriptorCount === null ? '-' : String(p.descriptorCount),
        commandLine(p),
      ]),
    ]),
  );

  // (pid, fd) → every reference to its open file description in the tree.
  const sharedWith = new Map<string, DescriptorRef[]>();
  for (const { refs } of report.shared) {
    for (const ref of refs) sharedWith.set(`${ref.pid}/${ref.fd}`, refs);
  }

  for (const p of report.processes) {
    out.push('');
    if (p.zombie) {
      out.push(
        `PID ${p.pid} (${p.command}): Z (zombie): it has exited and the kernel closed its descriptors; ` +
          `it stays in the process table until its parent ${p.ppid} reaps it with wait().`,
      );
      continue;
    }
    if (p.descriptors === null) {
      out.push(`PID ${p.pid} (${p.command}): descriptors not readable (permission denied, or it exited).`);
      continue;
    }
    const shown = p.descriptors.filter((d) => all || !folded(d)).sort((a, b) => rank(a) - rank(b) || a.fd - b.fd);
    const hidden = p.descriptors.length - shown.length;
    out.push(`PID ${p.pid} (${p.command}): ${p.descriptors.length} descriptors${hidden ? ` (${hidden} standard streams and /dev/null not shown: --all shows them)` : ''}`);
    out.push(
      table(
        [
          ['FD', 'TYPE', 'MODE', 'IDENTITY', 'DETAILS'],
          ...shown.map((d) => {
            const refs = sharedWith.get(`${p.pid}/${d.fd}`);
            const others = refs?.filter((r) => r.pid !== p.pid || r.fd !== d.fd);
            const note = refs ? `  [shared: one open file description, ${refs.length} references; also ${others!.map((r) => `${r.pid}/fd ${r.fd}`).join(', ')}]` : '';
            return [String(d.fd), d.type, d.access ? ACCESS[d.access]! : '?', d.identity, details(d) + note];
          }),
        ],
        '  ',
      ),
    );
  }
  return out.join('\n') + '\n';
}

/**
 * The output of `forkserve ps PID [--json]`: the process tree under `pid`
 * (a state column where zombies read `Z (zombie)`), then a descriptor table
 * per process, sockets first, noting the open file descriptions shared
 * between processes with their reference count; the standard streams and
 * /dev/null are folded unless `all`. With `json`, the
 * same data as a {@link PsReport} JSON document (2-space indented).
 *
 * @throws as {@link processTree}: `ESRCH` when `pid` does not exist, `ENOSYS` on platforms other than Linux and macOS.
 */
export function renderPs(pid: number, opts: { json?: boolean; all?: boolean } = {}): string {
  const report = psReport(pid, opts);
  return opts.json ? JSON.stringify(report, null, 2) + '\n' : renderText(report, opts.all === true);
}
