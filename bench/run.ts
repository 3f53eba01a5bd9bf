/**
 * `npm run bench`: every engine side by side on the same apps, plus a
 * minimal C fork-per-connection server (bench/floor/fork_floor.c) as the
 * floor. See docs/benchmarks.md.
 *
 *   npm run bench -- [--quick] [--duration S] [--engines a,b] [--apps a,b]
 *                    [--modes close,keepalive] [--connections N] [--workers N] [--rounds N] [--out DIR]
 *
 * Each cell (engine x app x mode) gets a fresh server pinned to CPU 0 and
 * wrk -t1 -cN pinned to CPU 1 (taskset, when present): start, warm up,
 * measure, stop. Measured per cell: req/s, p50/p99 latency (wrk --latency),
 * the server tree's CPU time per request (/proc/PID/stat utime+stime+cutime+
 * cstime of every process in the tree, before and after), its peak summed
 * VmRSS and its peak process count (sampled every 100 ms). Writes
 * bench/results/<timestamp>.md and .svg, copies them to latest.md and
 * latest.svg, and prints the Markdown.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CLK_TCK, TreeSampler, readStat, sleep, treeCpuTicks, treePids, waitUntil } from './proc.js';
import { CLI, ROOT, hasTaskset, startServer, type Server } from './server.js';
import { runWrk, type WrkResult } from './wrk.js';
import { barChart, type Panel } from './svg.js';

// ---------------------------------------------------------------- options

const { values: opt } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: 'boolean' },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    engines: { type: 'string' },
    apps: { type: 'string' },
    modes: { type: 'string' },
    connections: { type: 'string' },
    workers: { type: 'string' },
    rounds: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (opt.help) {
  process.stdout.write(`Usage: npm run bench -- [--quick] [--duration S] [--warmup S] [--engines LIST] [--apps LIST]
                        [--modes close,keepalive] [--connections N] [--workers N] [--rounds N] [--out DIR]
Engines: iterative,fork,prefork,poll,node,cluster,floor   Apps: hello,json,echo
`);
  process.exit(0);
}

// wrk takes whole seconds.
const DURATION = Math.ceil(Number(opt.duration ?? (opt.quick ? 2 : 5)));
const WARMUP = Math.ceil(Number(opt.warmup ?? 1));
const CONNECTIONS = Number(opt.connections ?? 32);
const ROUNDS = Number(opt.rounds ?? 1);
// One worker per CPU the server is given, as `--workers` defaults to (the
// affinity mask's size): one CPU when pinned. More workers than CPUs only
// add context switches between event loops on the same core.
const WORKERS = Number(opt.workers ?? (hasTaskset() ? 1 : os.availableParallelism()));
const OUT_DIR = path.resolve(opt.out ?? path.join(ROOT, 'bench/results'));
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
for (const [k, v] of Object.entries({ duration: DURATION, warmup: WARMUP, connections: CONNECTIONS, workers: WORKERS, rounds: ROUNDS })) {
  if (!Number.isInteger(v) || v <= 0 || v > (k === 'connections' ? 1000 : k === 'workers' ? 64 : k === 'rounds' ? 10 : 60)) {
    process.stderr.write(`bench: bad --${k}\n`);
    process.exit(2);
  }
}

interface EngineDef {
  id: string;
  label: string;
  args: string[];
  workers?: number;
  closeOnly?: string;
  /** The C floor: its own binary, one app. */
  floor?: boolean;
}

const ENGINES: EngineDef[] = [
  { id: 'iterative', label: 'iterative', args: ['--engine', 'iterative'], closeOnly: 'iterative closes every connection (one client at a time)' },
  { id: 'fork', label: 'fork', args: ['--engine', 'fork'] },
  { id: 'prefork', label: `prefork (${WORKERS})`, args: ['--engine', 'prefork', '--workers', String(WORKERS)], workers: WORKERS },
  { id: 'poll', label: 'poll', args: ['--engine', 'poll'] },
  { id: 'node', label: 'node:http', args: ['--engine', 'node'] },
  { id: 'cluster', label: `node:cluster (${WORKERS})`, args: ['--engine', 'node', '--workers', String(WORKERS)], workers: WORKERS },
  { id: 'floor', label: 'C floor', args: [], floor: true, closeOnly: 'the C floor sends Connection: close' },
];

interface AppDef {
  id: string;
  label: string;
  post?: boolean;
}

const APPS: AppDef[] = [
  { id: 'hello', label: 'text "Hello, World!"' },
  { id: 'json', label: 'small JSON' },
  { id: 'echo', label: 'POST 64 KiB echo', post: true },
];

type Mode = 'close' | 'keepalive';
const MODES: { id: Mode; label: string }[] = [
  { id: 'close', label: 'New connection per request (Connection: close)' },
  { id: 'keepalive', label: 'Keep-alive' },
];

function pick<T extends { id: string }>(all: T[], list: string | undefined, what: string): T[] {
  if (!list) return all;
  const ids = list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s === 'node:cluster' ? 'cluster' : s === 'node:http' ? 'node' : s));
  for (const id of ids) {
    if (!all.some((x) => x.id === id)) {
      process.stderr.write(`bench: unknown ${what} "${id}": expected one of ${all.map((x) => x.id).join(', ')}\n`);
      process.exit(2);
    }
  }
  return all.filter((x) => ids.includes(x.id));
}

const engines = pick(ENGINES, opt.engines, 'engine');
const apps = pick(APPS, opt.apps, 'app');
const modes = pick(MODES, opt.modes, 'mode');

// ---------------------------------------------------------------- setup

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-bench-'));
const POST_SCRIPT = path.join(tmp, 'post64k.lua');
fs.writeFileSync(POST_SCRIPT, [
  '-- 64 KiB POST body for the echo app',
  'wrk.method = "POST"',
  'wrk.body = string.rep("x", 65536)',
  'wrk.headers["Content-Type"] = "application/octet-stream"',
  '',
].join('\n'));

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

if (!which('wrk')) {
  process.stderr.write('bench: wrk is not installed (apt-get install wrk)\n');
  process.exit(1);
}

/** Builds the C floor with cc -O2 into the tmp dir; null (with a reason) if it cannot. */
function buildFloor(): { bin: string | null; why?: string } {
  if (!engines.some((e) => e.floor)) return { bin: null, why: 'not selected' };
  if (!which('cc')) return { bin: null, why: 'no C compiler (cc)' };
  const bin = path.join(tmp, 'fork_floor');
  try {
    execFileSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench/floor/fork_floor.c')], { stdio: 'pipe' });
    return { bin };
  } catch (e) {
    return { bin: null, why: `cc failed: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}` };
  }
}

// Keep this process (the sampler and the orchestration) off the server's CPU.
if (hasTaskset()) {
  try {
    execFileSync('taskset', ['-cp', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
  } catch {
    // not fatal
  }
}

// ---------------------------------------------------------------- cells

/** One measured run of a cell. */
interface Run {
  wrk: WrkResult;
  cpuMsPerReq?: number;
  peakRssMiB: number;
  peakTopRssMiB: number;
  peakProcs: number;
  /** CPU time on the server's CPU not spent by the server tree, % of the run (other load on a shared machine). */
  otherLoadPct?: number;
  /** Keep-alive mode: mean length of the listening socket's accept queue during the run. */
  queued?: number;
  /** CPU time of the server tree over the run's wall time, % of one CPU: well under 100 means the server sat idle with clients waiting. */
  cpuUsePct?: number;
  /** Busy time of the client's CPU (wrk, and this process's sampling), irq and softirq included: near 100% means wrk was the limit. */
  clientCpuPct?: number;
  /** Processes of the tree asleep with no progress (CPU time, context switch) for the last 2 s of the run: their wchan. */
  stalled: string[];
  /** The round it belongs to (1-based). */
  round?: number;
  /** The size-adjusted floor: MiB its heap was inflated by. */
  inflateMiB?: number;
}

interface Cell {
  engine: EngineDef;
  app: AppDef;
  mode: Mode;
  runs: Run[];
  errors: string[];
  skipped?: string;
}

/** Ticks of one CPU from /proc/stat: user+nice+system, everything but idle and iowait, and the elapsed total. */
function cpuLine(cpu: number): { busy: number; busyAll: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return { busy: 0, busyAll: 0, total: 0 };
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: f[0] + f[1] + f[2], busyAll: total - f[3] - f[4], total };
}

/**
 * Length of the accept queue of the listening socket on 127.0.0.1:port
 * (rx_queue of a LISTEN line of /proc/net/tcp): connections the kernel has
 * established that no server process has accepted yet. -1 if not found.
 */
function acceptQueue(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return -1;
  }
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && f[1]?.endsWith(`:${hexPort}`)) return parseInt(f[4].split(':')[1], 16);
  }
  return -1;
}

/** The kernel function a sleeping process waits in (/proc/PID/wchan). */
function wchanOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').trim() || '?';
  } catch {
    return '?';
  }
}

/** Waits until the tree has no zombie and no more processes than at rest (bounded). */
async function settle(pid: number, atRest: number): Promise<void> {
  await waitUntil(() => {
    const pids = treePids(pid);
    return pids.length <= atRest && pids.every((p) => readStat(p)?.state !== 'Z');
  }, 5000, 50);
  await sleep(100);
}

let floorBin: string | null = null;

async function start(engine: EngineDef, app: AppDef, extra: string[] = []): Promise<Server> {
  const logFile = path.join(tmp, `${engine.id}-${app.id}.log`);
  if (engine.floor) {
    return startServer({ command: floorBin!, args: [...extra, '127.0.0.1', '0'], logFile, cpu: SERVER_CPU });
  }
  const server = await startServer({
    command: process.execPath,
    args: [CLI, `${path.join(ROOT, 'bench/apps.ts')}:${app.id}`, ...engine.args, '--bind', '127.0.0.1:0', '--no-access-log'],
    logFile,
    cpu: SERVER_CPU,
  });
  if (engine.workers) {
    // Workers boot after "Listening at": wait for each one's line.
    const booted = await waitUntil(() => (server.log().match(/Booting worker/g) ?? []).length >= engine.workers!, 20_000, 50);
    if (!booted) {
      const why = /^\w*Error\b.*$/m.exec(server.log())?.[0];
      await server.stop();
      throw new Error(`${engine.workers} workers did not boot in 20 s${why ? ` (${why})` : ''}`);
    }
  }
  return server;
}

/** Starts a server, warms it up, measures one run, stops it. Throws on failure. */
async function measure(engine: EngineDef, app: AppDef, mode: Mode, extra: string[] = []): Promise<Run> {
  const server = await start(engine, app, extra);
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const wrkOpts = { url, connections: CONNECTIONS, close: mode === 'close', script: app.post ? POST_SCRIPT : undefined, cpu: CLIENT_CPU };
    await sleep(200);
    const atRest = treePids(server.pid).length;
    await runWrk({ ...wrkOpts, durationS: WARMUP }).catch(() => undefined);
    await settle(server.pid, atRest);
    const cpu0 = cpuLine(SERVER_CPU);
    const client0 = cpuLine(CLIENT_CPU);
    const ticks0 = treeCpuTicks(server.pid);
    // Progress of each process (CPU time + context switches): a child or worker asleep without any for the last 2 s of the run is stalled.
    const lastProgress = new Map<number, { progress: number; at: number; state: string }>();
    const sampler = new TreeSampler(server.pid, 100, (procs) => {
      const now = Date.now();
      for (const p of procs) {
        const progress = p.utime + p.stime + p.switches;
        const prev = lastProgress.get(p.pid);
        if (!prev || prev.progress !== progress) lastProgress.set(p.pid, { progress, at: now, state: p.state });
        else prev.state = p.state;
      }
    });
    // Keep-alive only: with a new connection per request /proc/net/tcp fills with TIME_WAIT lines, too long to read this often.
    const queue: number[] = [];
    const qTimer = mode === 'keepalive' ? setInterval(() => {
      const q = acceptQueue(server.port);
      if (q >= 0) queue.push(q);
    }, 200) : undefined;
    let wrk: WrkResult;
    const stalled: string[] = [];
    try {
      wrk = await runWrk({ ...wrkOpts, durationS: DURATION });
      const end = Date.now();
      for (const [pid, p] of lastProgress) {
        // Not the top process: a fork parent or a cluster primary has nothing to do once every keep-alive connection is placed.
        if (pid === server.pid || !readStat(pid)) continue;
        if ((p.state === 'S' || p.state === 'D') && end - p.at >= 2000) stalled.push(wchanOf(pid));
      }
    } finally {
      sampler.stop();
      clearInterval(qTimer);
    }
    await settle(server.pid, atRest);
    const ticks1 = treeCpuTicks(server.pid);
    const cpu1 = cpuLine(SERVER_CPU);
    const client1 = cpuLine(CLIENT_CPU);
    if (server.exited()) throw new Error('the server exited during the run');
    if (wrk.requests === 0) {
      const e = wrk.socketErrors;
      throw new Error(`no request completed (wrk socket errors: connect ${e.connect}, read ${e.read}, write ${e.write}, timeout ${e.timeout})`);
    }
    const serverTicks = ticks1 - ticks0;
    const elapsed = cpu1.total - cpu0.total;
    return {
      wrk,
      cpuMsPerReq: (serverTicks * 1000) / CLK_TCK / wrk.requests,
      peakRssMiB: sampler.peakRssKiB / 1024,
      peakTopRssMiB: sampler.peakTopRssKiB / 1024,
      peakProcs: sampler.peakProcesses,
      otherLoadPct: elapsed > 0 ? Math.max(0, ((cpu1.busy - cpu0.busy - serverTicks) * 100) / elapsed) : undefined,
      queued: queue.length ? queue.reduce((a, b) => a + b, 0) / queue.length : undefined,
      cpuUsePct: wrk.seconds > 0 ? (serverTicks * 100) / CLK_TCK / wrk.seconds : undefined,
      clientCpuPct: client1.total > client0.total ? ((client1.busyAll - client0.busyAll) * 100) / (client1.total - client0.total) : undefined,
      stalled,
    };
  } finally {
    await server.stop();
  }
}

/** The run with the highest req/s (interference from other processes only ever lowers it). */
const best = (c: Cell | undefined) => (c && c.runs.length ? c.runs.reduce((a, b) => (b.wrk.rps > a.wrk.rps ? b : a)) : undefined);
/** The lowest CPU time per request of the rounds (interference only adds to it). */
const cpuBest = (c: Cell | undefined) => (c && c.runs.length ? Math.min(...c.runs.map((r) => r.cpuMsPerReq ?? Infinity)) : undefined);

// ---------------------------------------------------------------- plan

const floor = buildFloor();
floorBin = floor.bin;
const FLOOR_DEF = ENGINES.find((e) => e.floor)!;
const INFLATED_DEF: EngineDef = { ...FLOOR_DEF, id: 'floor-inflated', label: 'C floor, size-adjusted' };

const plan: Cell[] = [];
const skipped: Cell[] = [];
const wantInflated = !!floorBin && apps.some((a) => a.id === 'hello') && modes.some((m) => m.id === 'close');
for (const mode of modes) {
  for (const app of apps) {
    for (const engine of engines) {
      const cell: Cell = { engine, app, mode: mode.id, runs: [], errors: [] };
      if (engine.floor && !floorBin) cell.skipped = `C floor unavailable: ${floor.why}`;
      else if (engine.closeOnly && mode.id === 'keepalive') cell.skipped = engine.closeOnly;
      else if (engine.floor && app.id !== 'hello') cell.skipped = 'the C floor only sends its fixed "Hello, World!"';
      else if (engine.id === 'cluster' && WORKERS === 1) {
        cell.skipped = 'with one worker per server CPU (1, pinned) node:cluster is node:http: `--workers 1` serves in one process (`--workers 2` to compare)';
      }
      (cell.skipped ? skipped : plan).push(cell);
      // The size-adjusted floor runs right after the fork engine's cell (or the floor's, without fork): same conditions.
      const anchor = engines.some((e) => e.id === 'fork') ? 'fork' : 'floor';
      if (wantInflated && engine.id === anchor && app.id === 'hello' && mode.id === 'close') {
        plan.push({ engine: INFLATED_DEF, app, mode: mode.id, runs: [], errors: [] });
      }
    }
  }
}
const perCell = DURATION + WARMUP + 3;
const estimate = Math.ceil(plan.length * ROUNDS * perCell);
process.stderr.write(
  `bench: ${plan.length} cells x ${ROUNDS} round(s) (${engines.map((e) => e.id).join(', ')} x ${apps.map((a) => a.id).join(', ')} x ${modes.map((m) => m.id).join(', ')}), ` +
  `${DURATION} s each + ${WARMUP} s warm-up: about ${Math.floor(estimate / 60)} min ${estimate % 60} s\n` +
  `bench: server on CPU ${SERVER_CPU}, wrk -t1 -c${CONNECTIONS} on CPU ${CLIENT_CPU}${hasTaskset() ? '' : ' (taskset missing: not pinned)'}\n`,
);

// ---------------------------------------------------------------- run

/** The addon or the compiled JS missing: someone is rebuilding in this tree. */
const ADDON = path.join(ROOT, 'build/Release/forkserve.node');
const rebuilding = (msg: string) => /native addon could not be loaded|Cannot find module|ERR_MODULE_NOT_FOUND|ERR_DLOPEN_FAILED/.test(msg);

/** measure(), but a failure because the addon was being rebuilt waits for it (up to 3 min) and tries again (3 times at most). */
async function measureRetrying(engine: EngineDef, app: AppDef, mode: Mode, extra: string[]): Promise<Run> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await measure(engine, app, mode, extra);
    } catch (e) {
      if (engine.floor || attempt >= 3 || !rebuilding((e as Error).message)) throw e;
      process.stderr.write(`bench: the addon or dist/ is missing (a rebuild?): waiting, then trying again\n`);
      await waitUntil(() => fs.existsSync(ADDON) && fs.existsSync(path.join(ROOT, 'dist/cli.js')), 180_000, 500);
      await sleep(3000);
    }
  }
}

/** RSS in MiB of a fork engine parent, for the size-adjusted floor when the fork engine is not in the run. */
async function forkParentRssMiB(): Promise<number | undefined> {
  try {
    const s = await start(ENGINES.find((e) => e.id === 'fork')!, APPS[0]);
    try {
      await sleep(300);
      const m = /^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${s.pid}/status`, 'utf8'));
      return m ? Math.round(Number(m[1]) / 1024) : undefined;
    } finally {
      await s.stop();
    }
  } catch {
    return undefined;
  }
}

const t0 = Date.now();
const startLoad = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const unavailable = new Map<string, string>();
let n = 0;
for (let round = 1; round <= ROUNDS; round++) {
  let lastForkRss: number | undefined;
  for (const cell of plan) {
    n++;
    const tag = `[${n}/${plan.length * ROUNDS}] ${cell.engine.label} ${cell.app.id} ${cell.mode}`;
    if (unavailable.has(cell.engine.id)) {
      process.stderr.write(`${tag}: skipped (${unavailable.get(cell.engine.id)})\n`);
      continue;
    }
    let extra: string[] = [];
    if (cell.engine.id === 'floor-inflated') {
      const mib = lastForkRss ?? (await forkParentRssMiB());
      if (!mib) {
        cell.errors.push('the fork engine parent\'s RSS could not be measured');
        continue;
      }
      extra = ['-m', String(mib)];
    }
    try {
      const run = await measureRetrying(cell.engine, cell.app, cell.mode, extra);
      if (extra.length) run.inflateMiB = Number(extra[1]);
      run.round = round;
      cell.runs.push(run);
      if (cell.engine.id === 'fork' && cell.app.id === 'hello' && cell.mode === 'close') lastForkRss = Math.round(run.peakTopRssMiB);
      const w = run.wrk;
      process.stderr.write(`${tag}: ${w.rps.toFixed(0)} req/s, p50 ${w.p50.toFixed(2)} ms, p99 ${w.p99.toFixed(2)} ms, ` +
        `${run.cpuMsPerReq?.toFixed(3)} ms CPU/req, ${run.peakRssMiB.toFixed(0)} MiB, ${run.peakProcs} procs, ${w.errors} errors, ` +
        `other load ${run.otherLoadPct?.toFixed(0)}%${run.inflateMiB ? `, heap +${run.inflateMiB} MiB` : ''}\n`);
    } catch (e) {
      const msg = (e as Error).message.split('\n').slice(0, 3).join(' ').replace(/\s+/g, ' ').slice(0, 300);
      cell.errors.push(msg);
      process.stderr.write(`${tag}: ERROR ${msg}\n`);
      // A server that could not start will not start for the next app either.
      if (/Listening at|did not boot/.test(msg) && !rebuilding(msg)) unavailable.set(cell.engine.id, msg);
    }
  }
}
const endLoad = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const elapsedS = Math.round((Date.now() - t0) / 1000);

// ---------------------------------------------------------------- report

const f0 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US'));
const f1 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(1));
const f2 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2));
const f3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3));

function find(engineId: string, appId: string, mode: Mode): Cell | undefined {
  return plan.find((c) => c.engine.id === engineId && c.app.id === appId && c.mode === mode);
}
const rps = (c: Cell | undefined) => best(c)?.wrk.rps;

const failures: string[] = [];
const stalls: string[] = [];
function table(mode: Mode): string[] {
  const range = ROUNDS > 1;
  const lines = [
    `| app | engine | req/s${range ? ' (best)' : ''} |${range ? ' req/s range |' : ''} vs node:http | p50 ms | p99 ms | accept queue | CPU ms/req${range ? ' (lowest)' : ''} | server CPU | client CPU | peak RSS MiB | peak procs | errors | other load on CPU ${SERVER_CPU} |`,
    `| --- | --- | ---: |${range ? ' ---: |' : ''} ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
  ];
  for (const app of apps) {
    const base = rps(find('node', app.id, mode));
    for (const c of plan.filter((x) => x.app.id === app.id && x.mode === mode)) {
      const label = c.engine.id === 'floor-inflated' ? `${c.engine.label} (+${c.runs[0]?.inflateMiB ?? '?'} MiB)` : c.engine.label;
      for (const e of [...new Set(c.errors)]) failures.push(`${label}, ${app.id}, ${mode}: ${e}`);
      const b = best(c);
      if (!b) {
        const what = unavailable.has(c.engine.id) ? 'unavailable' : 'failed';
        lines.push(`| ${app.id} | ${label} | ${what} |${range ? ' |' : ''} | | | | | | | | | | |`);
        continue;
      }
      const w = b.wrk;
      const ratio = base ? `${(w.rps / base).toFixed(2)}×` : '–';
      const stalledRuns = c.runs.filter((r) => r.stalled.length);
      const wchans = [...new Set(stalledRuns.flatMap((r) => r.stalled))].join(', ');
      const errs = (w.errors ? `${w.errors}${w.non2xx ? ` (${w.non2xx} non-2xx)` : ''}` : '0') +
        (stalledRuns.length ? `; **stalled** in ${stalledRuns.length} of ${c.runs.length} run(s) (${wchans})` : '');
      if (stalledRuns.length) stalls.push(`${label}, ${app.id}, ${mode}: ${stalledRuns.map((r) => r.stalled.length).join('/')} process(es) stalled in ${wchans}`);
      const rng = range ? ` ${f0(Math.min(...c.runs.map((r) => r.wrk.rps)))}–${f0(Math.max(...c.runs.map((r) => r.wrk.rps)))} (${c.runs.length}) |` : '';
      lines.push(`| ${app.id} | ${label} | ${f0(w.rps)} |${rng} ${ratio} | ${f2(w.p50)} | ${f2(w.p99)} | ${mode === 'keepalive' ? f1(b.queued) : '–'} | ${f3(cpuBest(c))} | ${b.cpuUsePct === undefined ? '–' : `${b.cpuUsePct.toFixed(0)}%`} | ${b.clientCpuPct === undefined ? '–' : `${b.clientCpuPct.toFixed(0)}%`} | ${f0(b.peakRssMiB)} | ${b.peakProcs} | ${errs} | ${b.otherLoadPct === undefined ? '–' : `${b.otherLoadPct.toFixed(0)}%`} |`);
    }
  }
  return lines;
}

type Verdict = { name: string; value: string; pass: boolean | null; detail: string };
const verdicts: Verdict[] = [];
// Client-bound: wrk's core is nearly full while the server's is not, so req/s
// measures the load generator. The server's capacity ratio is then the ratio
// of CPU time per request (both measured in this run, on the same core).
const CLIENT_BOUND_CLIENT_PCT = 90;
const CLIENT_BOUND_SERVER_PCT = 85;
function ratioTarget(mode: Mode, label: string) {
  const name = `prefork ${label} ≥ 1.5× node:http`;
  const pc = find('prefork', 'hello', mode);
  const nc = find('node', 'hello', mode);
  const pb = best(pc);
  const nb = best(nc);
  if (!pc || !pb || !nb) {
    verdicts.push({ name, value: 'not measured', pass: null, detail: 'prefork or node:http (text app) missing from this run' });
    return;
  }
  const p = pb.wrk.rps;
  const b = nb.wrk.rps;
  const r = p / b;
  const pCpu = cpuBest(pc);
  const bCpu = cpuBest(nc);
  const capacity = pCpu && bCpu ? bCpu / pCpu : undefined;
  const clientBound = (pb.clientCpuPct ?? 0) >= CLIENT_BOUND_CLIENT_PCT && (pb.cpuUsePct ?? 100) < CLIENT_BOUND_SERVER_PCT;
  const stalledRuns = pc.runs.filter((x) => x.stalled.length).length;
  const stallNote = stalledRuns ? `; prefork stalled (hung workers) in ${stalledRuns} of ${pc.runs.length} run(s)` : '';
  const capNote = capacity ? `; server CPU per request ${f3(pCpu)} vs ${f3(bCpu)} ms: capacity ${capacity.toFixed(2)}×` : '';
  const pass = r >= 1.5 || (clientBound && capacity !== undefined && capacity >= 1.5);
  const why = r >= 1.5
    ? ''
    : clientBound
      ? `req/s is client-bound (wrk at ${pb.clientCpuPct!.toFixed(0)}% of its core, prefork's server core at ${pb.cpuUsePct!.toFixed(0)}%): ` +
        `judged on server capacity${capacity !== undefined && capacity < 1.5 ? `, short by ${(((1.5 - capacity) / 1.5) * 100).toFixed(0)}%` : ''}`
      : `short by ${(((1.5 - r) / 1.5) * 100).toFixed(0)}% (needs ${f0(1.5 * b)} req/s)`;
  verdicts.push({
    name,
    value: `${r.toFixed(2)}× req/s (${f0(p)} vs ${f0(b)}, text app)${capNote}`,
    pass,
    detail: why + stallNote,
  });
}
if (modes.some((m) => m.id === 'keepalive')) ratioTarget('keepalive', 'keep-alive');
if (modes.some((m) => m.id === 'close')) ratioTarget('close', 'new-connection');
const forkClose = find('fork', 'hello', 'close');
const inflatedCell = find('floor-inflated', 'hello', 'close');
const forkCpu = cpuBest(forkClose);
const inflCpu = cpuBest(inflatedCell);
const fcName = 'fork per-connection CPU ≤ 1.3× the size-adjusted C floor';
// Paired by round: the floor's cell runs right after the fork engine's, so both see the same interference.
const pairs = (forkClose?.runs ?? []).flatMap((f) => {
  const fl = inflatedCell?.runs.find((x) => x.round === f.round);
  return f.cpuMsPerReq && fl?.cpuMsPerReq ? [f.cpuMsPerReq / fl.cpuMsPerReq] : [];
});
if (forkCpu && inflCpu && pairs.length) {
  const sorted = [...pairs].sort((a, b) => a - b);
  const r = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  verdicts.push({
    name: fcName,
    value: `${r.toFixed(2)}× (median of the rounds' ratios ${pairs.map((x) => `${x.toFixed(2)}×`).join(', ')}; ` +
      `lowest CPU/req ${f3(forkCpu)} vs ${f3(inflCpu)} ms, floor heap +${inflatedCell!.runs.map((x) => x.inflateMiB).join('/')} MiB)`,
    pass: r <= 1.3,
    detail: r <= 1.3 ? '' : `over by ${(((r - 1.3) / 1.3) * 100).toFixed(0)}%`,
  });
} else {
  verdicts.push({ name: fcName, value: 'not measured', pass: null, detail: 'fork (text, close) or the C floor missing from this run' });
}

let wrkVersion = '';
try {
  wrkVersion = execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
} catch (e) {
  wrkVersion = String((e as { stdout?: string }).stdout ?? '').split('\n')[0];
}
wrkVersion = wrkVersion.replace(/\s*Copyright.*$/, '').trim();
const now = new Date();
const stamp = now.toISOString().replace(/\.\d+Z$/, '').replace(/:/g, '-');
const cpuModel = (/^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? os.arch();

const md: string[] = [
  `# forkserve benchmark, ${now.toISOString().replace(/\.\d+Z$/, 'Z')}`,
  '',
  `${os.cpus().length} CPUs (${cpuModel}), Linux ${os.release()}, Node ${process.version}, ${wrkVersion}. ` +
  `Server on CPU ${SERVER_CPU} (all its processes), \`wrk -t1 -c${CONNECTIONS} -d${DURATION}s --latency\` on CPU ${CLIENT_CPU}` +
  `${hasTaskset() ? ' (taskset)' : ' (NOT pinned: no taskset)'}; ${WARMUP} s warm-up per cell, a fresh server per cell; ${ROUNDS} round(s); ` +
  `prefork and node:cluster with ${WORKERS} workers; access log off. Load average ${startLoad} at the start, ${endLoad} at the end; ` +
  `${elapsedS} s in all${opt.quick ? ' (--quick)' : ''}.`,
  '',
  '"vs node:http": req/s over the one-process `node` engine\'s, same app and mode, same run. "accept queue" (keep-alive): mean length of',
  `the listening socket's accept queue (/proc/net/tcp), connections of wrk's ${CONNECTIONS} that no process had accepted, so not served;`,
  'wrk\'s latencies only count completed requests. "CPU ms/req": CPU time of the server\'s whole process tree (reaped children included) per completed',
  'request. "server CPU": the tree\'s CPU time over the run\'s wall time (% of one CPU; well under 100% with 32 clients waiting means the server',
  `sat idle, or the client could not keep up). "client CPU": CPU ${CLIENT_CPU}'s busy time (wrk, this script's sampling, interrupts); near 100%`,
  'means wrk, not the server, set the pace. "peak RSS": VmRSS summed over the tree (pages shared copy-on-write count in every process). "errors": wrk\'s socket errors',
  `plus non-2xx responses. "other load": CPU ${SERVER_CPU}'s busy time not spent by the server tree (other processes on a shared machine).`,
  ...(ROUNDS > 1 ? ['With several rounds: req/s, latencies, RSS and processes from the round with the most req/s, CPU ms/req the lowest of the rounds (interference from other processes only lowers the one and raises the other).'] : []),
];
for (const mode of modes) md.push('', `## ${mode.label}`, '', ...table(mode.id));
if (stalls.length) {
  md.push('', 'Servers that **stalled** (a process asleep, with neither CPU time nor a context switch, for the last 2 s or more of a run: ' +
    'clients were left waiting; its req/s only counts the time before):', '', ...stalls.map((x) => `- ${x}`));
}
if (failures.length) md.push('', 'Cells that failed:', '', ...[...new Set(failures)].map((f) => `- ${f.replace(/\|/g, '\\|')}`));
if (skipped.length) {
  md.push('', 'Not run (meaningless combinations):', '');
  const reasons = new Map<string, string[]>();
  for (const c of skipped) {
    const key = `${c.engine.label}: ${c.skipped}`;
    reasons.set(key, [...(reasons.get(key) ?? []), `${c.app.id}/${c.mode}`]);
  }
  for (const [why, cells] of reasons) md.push(`- ${why} (${cells.join(', ')})`);
}
if (forkCpu) {
  const plain = find('floor', 'hello', 'close');
  md.push('', '## Fork per-connection cost vs the C floor (text app, new connection per request)', '',
    '| server | parent RSS MiB | CPU ms/req | fork engine ÷ this |', '| --- | ---: | ---: | ---: |',
    `| fork engine | ${f0(best(forkClose)?.peakTopRssMiB)} | ${f3(forkCpu)} | 1.00× |`);
  for (const c of [plain, inflatedCell]) {
    const cpu = cpuBest(c);
    if (cpu) md.push(`| ${c!.engine.label}${c!.engine.id === 'floor-inflated' ? ` (heap +${c!.runs.map((x) => x.inflateMiB).join('/')} MiB)` : ''} | ${f0(best(c)?.peakTopRssMiB)} | ${f3(cpu)} | ${(forkCpu / cpu).toFixed(2)}× |`);
  }
}
md.push('', '## Targets', '');
for (const v of verdicts) md.push(`- **${v.pass === null ? 'NOT MEASURED' : v.pass ? 'PASS' : 'MISS'}** ${v.name}: ${v.value}${v.detail ? `; ${v.detail}` : ''}`);
const markdown = md.join('\n') + '\n';

// The chart: req/s per app, a bar per engine, a panel per mode.
const barEngines = [...engines.filter((e) => !e.floor), ...(engines.some((e) => e.floor) ? [FLOOR_DEF] : []), ...(wantInflated ? [INFLATED_DEF] : [])];
const panels: Panel[] = modes.map((m) => ({
  title: m.label,
  groups: apps.map((a) => ({
    label: a.label,
    bars: barEngines.map((e) => {
      const c = find(e.id, a.id, m.id);
      const skip = skipped.some((x) => x.engine.id === e.id && x.app.id === a.id && x.mode === m.id);
      return { series: e.label, value: rps(c) ?? null, note: skip || !c ? `${e.label}: n/a` : `${e.label}: ${unavailable.has(e.id) ? 'unavailable' : 'failed'}` };
    }).filter((b) => b.value !== null || !b.note.endsWith('n/a') || !b.series.startsWith('C floor')),
  })),
}));
const svg = barChart('forkserve: engines side by side',
  `req/s (best of ${ROUNDS}), server on 1 CPU, wrk -t1 -c${CONNECTIONS}, ${DURATION} s per cell, ${now.toISOString().slice(0, 16)}Z`,
  barEngines.map((e) => e.label), panels);

fs.mkdirSync(OUT_DIR, { recursive: true });
fs.writeFileSync(path.join(OUT_DIR, `${stamp}.md`), markdown);
fs.writeFileSync(path.join(OUT_DIR, `${stamp}.svg`), svg);
fs.copyFileSync(path.join(OUT_DIR, `${stamp}.md`), path.join(OUT_DIR, 'latest.md'));
fs.copyFileSync(path.join(OUT_DIR, `${stamp}.svg`), path.join(OUT_DIR, 'latest.svg'));
fs.rmSync(tmp, { recursive: true, force: true });
process.stdout.write(markdown);
process.stderr.write(`bench: wrote ${path.relative(process.cwd(), path.join(OUT_DIR, `${stamp}.md`))} and .svg (and latest.*)\n`);
