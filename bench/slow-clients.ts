/**
 * `npm run bench:slow`: what slow clients cost the fork engine (issue #11).
 * N connections (default 10,000) each send half a request head and stop,
 * the slowloris pattern; then one normal client asks for "Hello, World!".
 * Measured per --fork-after mode, the server pinned to CPU 0 with taskset,
 * this client on the others:
 *   - the most processes the server tree had while the slow clients waited;
 *   - the tree's memory then: proportional set size summed (/proc/PID/smaps_rollup Pss:
 *     each shared page split among its sharers, so the sum is what the tree costs);
 *   - how long the normal client waited for its answer (give-up after 5 s).
 * Bounded: every phase has a deadline, every socket is destroyed, the
 * server stops with SIGINT (its children SIGKILLed).
 *
 *   npm run bench:slow -- [--clients N] [--out DIR]
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { childPids, sleep, treePids, waitUntil } from './proc.js';
import { CLI, ROOT, startServer } from './server.js';

/** The proportional set size of pid in KiB (/proc/PID/smaps_rollup), 0 when gone. */
function pssKiB(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

interface Row {
  mode: string;
  clients: number;
  connected: number;
  mostProcesses: number;
  pssMiB: number;
  normalMs: number | null;
}

/** Opens n connections that each send half a head; resolves once all are connected or failed, or at the deadline. */
async function slowClients(port: number, n: number, deadlineMs: number): Promise<{ socks: net.Socket[]; connected: () => number }> {
  const socks: net.Socket[] = [];
  let connected = 0;
  let settled = 0;
  for (let i = 0; i < n; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => {
      connected++;
      settled++;
      s.write('GET / HTTP/1.1\r\nHost: slow\r\n');
    });
    s.on('error', () => settled++);
    socks.push(s);
    if (i % 500 === 499) await sleep(20); // let the kernel's accept queue drain a little
  }
  await waitUntil(() => settled >= n, deadlineMs, 50);
  return { socks, connected: () => connected };
}

/** The time until a normal request is answered, or null past timeoutMs. */
async function normalRequest(port: number, timeoutMs: number): Promise<number | null> {
  const t0 = performance.now();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(timeoutMs) });
    await res.text();
    return res.status === 200 ? performance.now() - t0 : null;
  } catch {
    return null;
  }
}

async function measure(mode: 'accept' | 'head', clients: number, logDir: string): Promise<Row> {
  const server = await startServer({
    command: process.execPath,
    args: [CLI, path.join(ROOT, 'examples/hello.ts'), '--bind', '127.0.0.1:0', '-k', 'fork', '--fork-after', mode, '--no-access-log', '--backlog', '4096'],
    logFile: path.join(logDir, `slow-${mode}.log`),
    cpu: 0,
  });
  let most = 1;
  const sampler = setInterval(() => (most = Math.max(most, treePids(server.pid).length)), 100);
  const { socks, connected } = await slowClients(server.port, clients, 60_000);
  // The forks take a while in accept mode: wait until the count stops growing (bounded).
  let last = -1;
  await waitUntil(() => {
    const n = childPids(server.pid).length;
    const stable = n === last;
    last = n;
    return stable;
  }, 60_000, 1000);
  const pss = treePids(server.pid).reduce((a, pid) => a + pssKiB(pid), 0);
  const normalMs = await normalRequest(server.port, 5000);
  clearInterval(sampler);
  for (const s of socks) s.destroy();
  await server.stop('SIGINT', 20_000);
  return { mode, clients, connected: connected(), mostProcesses: most, pssMiB: Math.round(pss / 1024), normalMs };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { clients: { type: 'string' }, out: { type: 'string' } } });
  const clients = Number(values.clients ?? 10_000);
  const out = values.out ?? path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(out, { recursive: true });
  const rows: Row[] = [];
  for (const mode of ['accept', 'head'] as const) {
    process.stderr.write(`bench:slow: --fork-after ${mode}, ${clients} slow clients\n`);
    rows.push(await measure(mode, clients, out));
  }
  const lines = [
    `# Slow clients on the fork engine (${new Date().toISOString()})`,
    '',
    `${clients} connections each send half a request head and stop; then one normal request. Server pinned to CPU 0 (taskset), default --max-children.`,
    '',
    '| --fork-after | slow clients connected | most processes in the tree | tree memory then (Pss) | normal request answered in |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.mode} | ${r.connected} | ${r.mostProcesses} | ${r.pssMiB} MiB | ${r.normalMs === null ? 'not within 5 s' : `${r.normalMs.toFixed(0)} ms`} |`),
    '',
  ];
  const file = path.join(out, `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-slow-clients.md`);
  fs.writeFileSync(file, lines.join('\n'));
  process.stdout.write(lines.join('\n'));
  process.stderr.write(`bench:slow: wrote ${path.relative(ROOT, file)}\n`);
}

main().catch((err) => {
  process.stderr.write(`bench:slow: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
