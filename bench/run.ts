/**
 * `npm run bench`: forkserve's engines side by side with the servers a user
 * would pick instead (bench/servers.ts), in one run. See docs/benchmarks.md.
 *
 *   npm run bench -- [--quick] [--duration S] [--warmup S] [--servers a,b] [--apps a,b]
 *                    [--modes close,keepalive] [--connections N] [--workers N] [--rounds N] [--out DIR]
 *
 * Each cell (server x app x mode) gets a fresh server pinned to CPU 0 and
 * wrk -t1 -cN pinned to CPU 1 (taskset): start, warm up, measure, stop
 * (bench/measure.ts). The comparison is the server tree's CPU time per
 * completed request, beside req/s: wrk on one core saturates near nginx's
 * rate, so a faster server shows no more req/s. Writes
 * bench/results/<timestamp>.md and .svg, copies them to latest.*, and
 * prints the Markdown.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { measure } from './measure.js';
import { Report, best, type Cell } from './report.js';
import { ROOT, hasTaskset, startServer, type Server } from './server.js';
import { APPS, MODES, appPath, cannotRun, freePort, launchCell, serverDefs, which, writeStaticFiles, type AppDef, type ServerDef } from './servers.js';
import { waitUntil } from './proc.js';
import { barChart, type Panel } from './svg.js';

const SERVER_CPU = 0;
const CLIENT_CPU = 1;

interface Options {
  duration: number;
  warmup: number;
  connections: number;
  workers: number;
  rounds: number;
  out: string;
  quick: boolean;
  servers?: string;
  apps?: string;
  modes?: string;
}

function options(): Options {
  const { values: v } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean' }, duration: { type: 'string' }, warmup: { type: 'string' }, servers: { type: 'string' },
      apps: { type: 'string' }, modes: { type: 'string' }, connections: { type: 'string' }, workers: { type: 'string' },
      rounds: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(`Usage: npm run bench -- [--quick] [--duration S] [--warmup S] [--servers LIST] [--apps LIST]
                        [--modes close,keepalive] [--connections N] [--workers N] [--rounds N] [--out DIR]
Servers: ${serverDefs(1, null, '').map((s) => s.id).join(',')}
Apps: ${APPS.map((a) => a.id).join(',')}
`);
    process.exit(0);
  }
  const o: Options = {
    // wrk takes whole seconds.
    duration: Math.ceil(Number(v.duration ?? (v.quick ? 2 : 5))),
    warmup: Math.ceil(Number(v.warmup ?? 1)),
    connections: Number(v.connections ?? 32),
    // One worker per CPU the server is given (one, pinned): more only adds context switches on one core.
    workers: Number(v.workers ?? (hasTaskset() ? 1 : os.availableParallelism())),
    rounds: Number(v.rounds ?? 1),
    out: path.resolve(v.out ?? path.join(ROOT, 'bench/results')),
    quick: v.quick === true,
    servers: v.servers, apps: v.apps, modes: v.modes,
  };
  const limits = { duration: 60, warmup: 60, connections: 1000, workers: 64, rounds: 10 } as const;
  for (const [k, max] of Object.entries(limits)) {
    const n = o[k as keyof typeof limits];
    if (!Number.isInteger(n) || n <= 0 || n > max) {
      process.stderr.write(`bench: --${k} must be an integer from 1 to ${max}\n`);
      process.exit(2);
    }
  }
  return o;
}

function pick<T extends { id: string }>(all: T[], list: string | undefined, what: string): T[] {
  if (!list) return all;
  const ids = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) {
    if (!all.some((x) => x.id === id)) {
      process.stderr.write(`bench: unknown ${what} "${id}": expected one of ${all.map((x) => x.id).join(', ')}\n`);
      process.exit(2);
    }
  }
  return all.filter((x) => ids.includes(x.id));
}

/** Builds the C floor (bench/floor/fork_floor.c) with cc -O2; null with a reason if it cannot. */
function buildFloor(tmp: string): { bin: string | null; why: string } {
  if (!which('cc')) return { bin: null, why: 'no C compiler (cc)' };
  const bin = path.join(tmp, 'fork_floor');
  try {
    execFileSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench/floor/fork_floor.c')], { stdio: 'pipe' });
    return { bin, why: '' };
  } catch (e) {
    return { bin: null, why: `cc failed: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}` };
  }
}

async function startCell(def: ServerDef, app: AppDef, tmp: string): Promise<Server> {
  const launch = launchCell(def, app, { tmp, port: await freePort(), dir: path.join(tmp, 'static') });
  const server = await startServer({ ...launch, logFile: path.join(tmp, `${def.id}-${app.id}.log`), cpu: SERVER_CPU });
  if (def.workers) {
    // Workers boot after "Listening at": wait for each one's line.
    const booted = await waitUntil(() => (server.log().match(/Booting worker/g) ?? []).length >= def.workers!, 20_000, 50);
    if (!booted) {
      await server.stop();
      throw new Error(`${def.workers} workers did not boot in 20 s`);
    }
  }
  return server;
}

function header(o: Options, elapsedS: number, loads: [string, string]): string[] {
  let wrkVersion = '';
  try {
    wrkVersion = execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch (e) {
    wrkVersion = String((e as { stdout?: string }).stdout ?? '').split('\n')[0];
  }
  const cpuModel = (/^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? os.arch();
  return [
    `# forkserve benchmark, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
    '',
    `${os.cpus().length} CPUs (${cpuModel}), Linux ${os.release()}, Node ${process.version}, ${wrkVersion.replace(/\s*Copyright.*$/, '')}. ` +
    `Every server on CPU ${SERVER_CPU} (all its processes), \`wrk -t1 -c${o.connections} -d${o.duration}s --latency\` on CPU ${CLIENT_CPU}` +
    `${hasTaskset() ? ' (taskset)' : ' (NOT pinned: no taskset)'}; ${o.warmup} s warm-up per cell, a fresh server per cell, ${o.rounds} round(s); ` +
    `prefork with ${o.workers} worker(s), nginx and gunicorn with 1; access logs off. Load average ${loads[0]} at the start, ${loads[1]} at the end; ${elapsedS} s in all.`,
    '',
    '"server CPU µs/req": utime+stime of the server\'s whole process tree (reaped children included) over the run, per completed request; ' +
    'the lowest of the rounds. "× node:http": over the plain node:http handler (bench/baselines/node-http.mjs), same app, same mode, same run. ' +
    '"server CPU": the tree\'s CPU time over wall time (% of one CPU). "client CPU": the client core\'s busy time; near 100% means wrk set the pace, ' +
    'and then only CPU per request compares servers. Anchors (what a user would run instead) are in *italics*.',
  ];
}

async function main(): Promise<void> {
  const o = options();
  if (!which('wrk')) {
    process.stderr.write('bench: wrk is not installed (apt-get install wrk)\n');
    process.exit(1);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-bench-'));
  const script = path.join(tmp, 'post64k.lua');
  fs.writeFileSync(script, 'wrk.method = "POST"\nwrk.body = string.rep("x", 65536)\nwrk.headers["Content-Type"] = "application/octet-stream"\n');
  const floor = buildFloor(tmp);
  writeStaticFiles(path.join(tmp, 'static'));
  const defs = pick(serverDefs(o.workers, floor.bin, floor.why), o.servers, 'server');
  const apps = pick(APPS, o.apps, 'app');
  const modes = pick(MODES, o.modes, 'mode');
  // Keep this process (orchestration and sampling) off the server's CPU.
  if (hasTaskset()) {
    try {
      execFileSync('taskset', ['-cp', String(CLIENT_CPU), String(process.pid)], { stdio: 'ignore' });
    } catch {
      // not fatal
    }
  }

  const cells: Cell[] = [];
  for (const mode of modes) {
    for (const app of apps) {
      for (const server of defs) cells.push({ server, app, mode: mode.id, runs: [], errors: [], skipped: cannotRun(server, app, mode.id) });
    }
  }
  const planned = cells.filter((c) => !c.skipped);
  const estimate = planned.length * o.rounds * (o.duration + o.warmup + 3);
  process.stderr.write(`bench: ${planned.length} cells x ${o.rounds} round(s), about ${Math.floor(estimate / 60)} min ${estimate % 60} s; ` +
    `servers on CPU ${SERVER_CPU}, wrk -t1 -c${o.connections} on CPU ${CLIENT_CPU}${hasTaskset() ? '' : ' (taskset missing: not pinned)'}\n`);

  const t0 = Date.now();
  const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const startLoad = load();
  const unavailable = new Map<string, string>();
  let n = 0;
  for (let round = 1; round <= o.rounds; round++) {
    for (const cell of planned) {
      const tag = `[${++n}/${planned.length * o.rounds}] ${cell.server.label} ${cell.app.id} ${cell.mode}`;
      if (unavailable.has(cell.server.id)) {
        cell.errors.push(unavailable.get(cell.server.id)!);
        continue;
      }
      try {
        const run = await measure({
          start: () => startCell(cell.server, cell.app, tmp), path: appPath(cell.app), mode: cell.mode, connections: o.connections,
          durationS: o.duration, warmupS: o.warmup, script: cell.app.post ? script : undefined, serverCpu: SERVER_CPU, clientCpu: CLIENT_CPU,
        });
        run.round = round;
        cell.runs.push(run);
        const w = run.wrk;
        process.stderr.write(`${tag}: ${w.rps.toFixed(0)} req/s, ${((run.cpuMsPerReq ?? NaN) * 1000).toFixed(1)} µs CPU/req, ` +
          `server ${run.cpuUsePct?.toFixed(0)}%, client ${run.clientCpuPct?.toFixed(0)}%, ${w.errors} errors\n`);
      } catch (e) {
        const msg = (e as Error).message.split('\n').slice(0, 3).join(' ').replace(/\s+/g, ' ').slice(0, 300);
        cell.errors.push(msg);
        process.stderr.write(`${tag}: ERROR ${msg}\n`);
        // A server that could not start will not start for the next app either.
        if (/Listening at|did not boot/.test(msg)) unavailable.set(cell.server.id, msg);
      }
    }
  }
  const report = new Report(cells, apps, modes);
  const markdown = report.markdown(header(o, Math.round((Date.now() - t0) / 1000), [startLoad, load()]));

  const panels: Panel[] = modes.map((m) => ({
    title: m.label,
    groups: apps.map((a) => ({
      label: a.label,
      bars: defs.map((d) => {
        const c = report.find(d.id, a.id, m.id);
        return { series: d.label, value: best(c)?.wrk.rps ?? null, note: `${d.label}: ${c ? 'failed' : 'n/a'}` };
      }).filter((b) => b.value !== null),
    })),
  }));
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, '').replace(/:/g, '-');
  const svg = barChart('forkserve and the servers users pick instead', `req/s (best of ${o.rounds}), server on 1 CPU, wrk -t1 -c${o.connections}, ${o.duration} s per cell`,
    defs.map((d) => d.label), panels);
  fs.mkdirSync(o.out, { recursive: true });
  fs.writeFileSync(path.join(o.out, `${stamp}.md`), markdown);
  fs.writeFileSync(path.join(o.out, `${stamp}.svg`), svg);
  fs.copyFileSync(path.join(o.out, `${stamp}.md`), path.join(o.out, 'latest.md'));
  fs.copyFileSync(path.join(o.out, `${stamp}.svg`), path.join(o.out, 'latest.svg'));
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stdout.write(markdown);
  process.stderr.write(`bench: wrote ${path.relative(process.cwd(), path.join(o.out, `${stamp}.md`))} and .svg (and latest.*)\n`);
}

await main();
