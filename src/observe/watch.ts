// `forkserve watch PID [--interval MS]`: a live view of a process tree in the
// terminal, redrawn in place: the tree (zombies marked, descriptor counts),
// child and zombie counts, and the last children seen to go away with what
// is known of their exit. Reference: docs/observe.md.

import { parseArgs } from 'node:util';
import { stateLabel } from './format.js';
import { launchObserver } from './launch.js';
import { describeExit, describeGone, TreeTracker, type TreeSnapshot, type TrackedProcess } from './tracker.js';
import { figuresLine, treeFigures } from './metrics.js';
import type { Descriptor } from '../observe.js';
import { describeForkConnection, descriptorsOrNull, ForkTimeline, TIMELINE_MAX_PROCESSES, type ForkConnection } from './timeline.js';

export interface WatchOptions {
  /** Time between two looks, ms. Default 1000, at least 50. */
  intervalMs?: number;
  /** Where to draw. Default process.stdout. On a TTY the view is redrawn in place; otherwise frames are appended. */
  out?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
  /** Stop after this many frames. Default: until the process is gone or `signal` aborts. */
  iterations?: number;
  /** Stops the view (watchMain aborts it on SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Colors on a TTY. Default: on unless NO_COLOR is set. */
  color?: boolean;
}

const ESC = '\x1b[';
const CLEAR_SCREEN = `${ESC}2J`;
const HOME = `${ESC}H`;
const CLEAR_EOL = `${ESC}K`;
const CLEAR_BELOW = `${ESC}J`;
const HIDE_CURSOR = `${ESC}?25l`;
const SHOW_CURSOR = `${ESC}?25h`;

interface Paint {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

const PLAIN: Paint = { bold: (s) => s, dim: (s) => s, red: (s) => s, yellow: (s) => s };
const ANSI: Paint = {
  bold: (s) => `${ESC}1m${s}${ESC}0m`,
  dim: (s) => `${ESC}2m${s}${ESC}0m`,
  red: (s) => `${ESC}31m${s}${ESC}0m`,
  yellow: (s) => `${ESC}33m${s}${ESC}0m`,
};

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

function commandOf(p: TrackedProcess): string {
  const cmd = p.args.length > 0 ? p.args.join(' ') : `[${p.command}]`;
  const branch = p.depth > 0 ? '  '.repeat(p.depth - 1) + '\\_ ' : '';
  return branch + cmd + (p.zombie ? ' <defunct>' : '');
}

/** Left-aligned columns; `paint[i]` colors cell i after padding (so widths stay right). */
function columns(rows: string[][], paint: Array<((s: string, row: number) => string) | undefined> = []): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row, r) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i]!);
        return paint[i] ? paint[i]!(padded, r) : padded;
      })
      .join('  '),
  );
}

/** Cuts a line to `width` visible characters (ANSI sequences do not count). */
function fit(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end > 0) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) break;
    out += line[i];
    visible++;
  }
  return visible >= width && out.includes('\x1b') ? out + `${ESC}0m` : out;
}

/**
 * The lines of one frame of the view (no cursor movement). Exported for tests
 * and for other front ends.
 */
export function renderWatchFrame(
  snap: TreeSnapshot,
  opts: { intervalMs: number; color?: boolean; width?: number; height?: number; figures?: string; forks?: ForkConnection[] } = { intervalMs: 1000 },
): string[] {
  const c = opts.color ? ANSI : PLAIN;
  const lines: string[] = [];
  const root = snap.processes[0];
  lines.push(
    c.bold(`forkserve watch ${snap.pid}`) +
      c.dim(`  every ${opts.intervalMs} ms  ${clock(snap.time)}  (Ctrl-C to stop)`),
  );
  if (snap.gone || !root) {
    lines.push(c.yellow(`PID ${snap.pid} is gone: it exited (its pid is no longer in /proc, or now belongs to another process).`));
  } else {
    const zombies = snap.zombies > 0 ? c.red(`zombies ${snap.zombies}`) : `zombies 0`;
    lines.push(
      `${root.command} ${stateLabel(root.state)}   children ${snap.children}` +
        (snap.descendants !== snap.children ? ` (descendants ${snap.descendants})` : '') +
        `   ${zombies}`,
    );
    // The figures /metrics serves (src/observe/metrics.ts): memory and the accept queues.
    if (opts.figures) lines.push(opts.figures);
  }
  lines.push('');

  if (snap.processes.length > 0) {
    const header = ['PID', 'PPID', 'STATE', 'FDS', 'COMMAND'];
    const rows = snap.processes.map((p) => [
      String(p.pid),
      String(p.ppid),
      stateLabel(p.state),
      p.descriptorCount === null ? '-' : String(p.descriptorCount),
      commandOf(p) + (p.exitStatus ? `   [${describeExit(p.exitStatus)}, not yet reaped]` : ''),
    ]);
    const zombieRow = (row: number) => row > 0 && snap.processes[row - 1]!.zombie;
    let table = columns([header, ...rows], [
      undefined,
      undefined,
      (s, r) => (zombieRow(r) ? c.red(s) : r === 0 ? c.bold(s) : s),
      undefined,
      (s, r) => (zombieRow(r) ? c.red(s) : r === 0 ? c.bold(s) : s),
    ]);
    // Leave room for the footer when the terminal is short.
    const room = opts.height ? Math.max(3, opts.height - 6 - Math.min(snap.recentlyGone.length, 5) - lines.length) : Infinity;
    if (table.length > room) {
      const hidden = table.length - (room - 1);
      table = [...table.slice(0, room - 1), c.dim(`... ${hidden} more processes`)];
    }
    lines.push(...table);
  }

  if (opts.forks?.length) {
    lines.push('');
    lines.push(c.bold('The fork moment') + c.dim(' (each connection the parent accepted, newest first; --trace-forks makes every stage last):'));
    for (const f of opts.forks.slice(0, 3)) lines.push(`  ${describeForkConnection(f)}`);
  }
  lines.push('');
  if (snap.recentlyGone.length === 0) {
    lines.push(c.dim('No child seen going away yet. (Inferred by comparing successive looks at the tree.)'));
  } else {
    lines.push(c.bold('Last children seen going away') + c.dim(' (inferred by comparing successive looks at /proc; newest first):'));
    const max = opts.height ? Math.max(1, Math.min(snap.recentlyGone.length, opts.height - lines.length - 1)) : snap.recentlyGone.length;
    for (const g of snap.recentlyGone.slice(0, max)) {
      lines.push(`  ${clock(g.noticedAt)}  ${String(g.pid).padEnd(7)} ${g.command.padEnd(15)} ${describeGone(g)}`);
    }
  }
  if (snap.excluded.length > 0) {
    lines.push(c.dim(`(this watcher, pid ${snap.excluded.join(', ')}, is left out of the tree)`));
  }
  const shown = opts.height && lines.length > opts.height ? lines.slice(0, opts.height) : lines;
  return opts.width ? shown.map((l) => fit(l, opts.width!)) : shown;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The processes of a look with their descriptors: every process's in a
 * small tree (the fork-moment lines need them), else the root's only (its
 * listening sockets, for the figures line). Unreadable ones stay without.
 */
function withDescriptors(snap: TreeSnapshot): Array<TrackedProcess & { descriptors: Descriptor[] | null }> {
  const all = snap.processes.length <= TIMELINE_MAX_PROCESSES;
  return snap.processes.map((p, i) => ({ ...p, descriptors: i === 0 || all ? descriptorsOrNull(p.pid, p.zombie) : null }));
}

/**
 * A live view of the process tree under `pid`, redrawn every `intervalMs`
 * until the process is gone, `iterations` frames were drawn, or
 * `opts.signal` aborts. On a TTY it redraws in place (cursor home, each line
 * cleared to its end, the rest of the screen cleared; at most `rows` lines,
 * each cut to `columns`); on anything else it
 * appends one frame after another, without escape sequences.
 *
 * @throws `ESRCH` if `pid` does not exist at the first look; `ENOSYS` where
 *   forkserve/observe is not implemented.
 */
export async function watch(pid: number, opts: WatchOptions = {}): Promise<void> {
  const out = opts.out ?? process.stdout;
  const intervalMs = Math.max(50, opts.intervalMs ?? 1000);
  const iterations = opts.iterations ?? Infinity;
  const tty = out.isTTY === true;
  const color = tty && (opts.color ?? !('NO_COLOR' in process.env));
  const tracker = new TreeTracker(pid);
  const timeline = new ForkTimeline(pid, { keep: 3 });
  let first = true;
  try {
    for (let i = 0; i < iterations && !opts.signal?.aborted; i++) {
      const snap = tracker.sample();
      const looked = snap.gone ? [] : withDescriptors(snap);
      const forks = snap.gone ? timeline.connections() : timeline.observe(snap.time, looked);
      const lines = renderWatchFrame(snap, {
        figures: snap.gone ? undefined : figuresLine(treeFigures(snap.pid, looked)),
        forks,
        intervalMs,
        color,
        width: tty ? out.columns : undefined,
        height: tty ? out.rows : undefined,
      });
      if (tty) {
        // No newline after the last line: a frame as tall as the terminal must not scroll it.
        out.write((first ? HIDE_CURSOR + CLEAR_SCREEN : '') + HOME + lines.map((l) => l + CLEAR_EOL).join('\n') + CLEAR_BELOW);
      } else {
        out.write((first ? '' : '\n') + lines.join('\n') + '\n');
      }
      first = false;
      if (snap.gone) break;
      if (i + 1 < iterations) await sleep(intervalMs, opts.signal);
    }
  } finally {
    if (tty && !first) out.write(SHOW_CURSOR + '\n');
  }
}

const WATCH_USAGE = `Usage: forkserve watch PID [--interval MS] [--iterations N]

A live view of the process tree under PID, redrawn in place: states (zombies
marked), descriptor counts, child and zombie counts, and the last children
seen going away. Stops when PID exits, or on Ctrl-C.

  -i, --interval MS   time between two looks (default 1000, at least 50)
  -n, --iterations N  stop after N frames
  -h, --help          this text
`;

/** `forkserve watch PID [--interval MS] [--iterations N]`. Returns the exit code. Ctrl-C (SIGINT) or SIGTERM stop it with 0. */
export async function watchMain(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      interval: { type: 'string', short: 'i' },
      iterations: { type: 'string', short: 'n' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(WATCH_USAGE);
    return 0;
  }
  const pid = Number(positionals[0]);
  const interval = values.interval === undefined ? 1000 : Number(values.interval);
  const iterations = values.iterations === undefined ? undefined : Number(values.iterations);
  if (positionals.length !== 1 || !Number.isSafeInteger(pid) || pid <= 0) {
    process.stderr.write(`forkserve watch: expected one PID\n${WATCH_USAGE}`);
    return 2;
  }
  if (!Number.isInteger(interval) || interval < 50) {
    process.stderr.write(`forkserve watch: --interval must be an integer >= 50 (ms), got "${values.interval}"\n`);
    return 2;
  }
  if (iterations !== undefined && (!Number.isInteger(iterations) || iterations < 1)) {
    process.stderr.write(`forkserve watch: --iterations must be an integer >= 1, got "${values.iterations}"\n`);
    return 2;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await watch(pid, { intervalMs: interval, iterations, signal: stop.signal });
    return 0;
  } catch (err) {
    process.stderr.write(`forkserve watch: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * For `forkserve APP --watch`: starts `forkserve watch <this pid>` drawing on
 * this process's stdout, as a process that is NOT a child of this one (see
 * launch.ts: it is started through a short-lived intermediate and adopted by
 * init or the nearest subreaper), so it neither appears in the tree it draws
 * nor has its exit status taken by the fork engine's waitpid(-1). It stays in
 * this process group, so Ctrl-C in the terminal stops it too, and it exits by
 * itself once this process is gone.
 *
 * Call it before the server starts (before serve()); resolves once the
 * intermediate has exited and been reaped, so no child of ours is left behind.
 * Does nothing in a node:cluster worker.
 */
export async function startWatchForSelf(opts: { intervalMs?: number } = {}): Promise<void> {
  const args = ['watch', String(process.pid)];
  if (opts.intervalMs !== undefined) args.push('--interval', String(opts.intervalMs));
  await launchObserver(args);
}
