/**
 * One measured run of one cell (server x app x mode): a fresh server pinned
 * to the server CPU, a warm-up, then wrk pinned to the client CPU while the
 * server tree's CPU time, RSS and processes are sampled from /proc.
 */
import fs from 'node:fs';
import { CLK_TCK, TreeSampler, readStat, sleep, treeCpuTicks, treePids, waitUntil } from './proc.js';
import type { Server } from './server.js';
import { runWrk, type WrkResult } from './wrk.js';
import type { Mode } from './servers.js';

/** One measured run of a cell. */
export interface Run {
  wrk: WrkResult;
  cpuMsPerReq?: number;
  /**
   * Busy time of the server's CPU (irq and softirq included) per request.
   * Where the kernel does the work (sendfile of a large file: loopback TCP
   * runs in softirq, which tick accounting does not charge to the task)
   * the tree's CPU time misses it; the core's does not.
   */
  coreMsPerReq?: number;
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

/** What measure() needs to know of the cell and the machine. */
export interface MeasureOptions {
  start: () => Promise<Server>;
  /** Request path, e.g. /hello. */
  path: string;
  mode: Mode;
  connections: number;
  durationS: number;
  warmupS: number;
  /** wrk Lua script for a POST body, or undefined. */
  script?: string;
  serverCpu: number;
  clientCpu: number;
}

/** Starts a server, warms it up, measures one run, stops it. Throws on failure. */
export async function measure(o: MeasureOptions): Promise<Run> {
  const { mode } = o;
  const server = await o.start();
  try {
    const url = `http://127.0.0.1:${server.port}${o.path}`;
    const wrkOpts = { url, connections: o.connections, close: mode === 'close', script: o.script, cpu: o.clientCpu };
    await sleep(200);
    const atRest = treePids(server.pid).length;
    await runWrk({ ...wrkOpts, durationS: o.warmupS }).catch(() => undefined);
    await settle(server.pid, atRest);
    const cpu0 = cpuLine(o.serverCpu);
    const client0 = cpuLine(o.clientCpu);
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
      wrk = await runWrk({ ...wrkOpts, durationS: o.durationS });
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
    const cpu1 = cpuLine(o.serverCpu);
    const client1 = cpuLine(o.clientCpu);
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
      coreMsPerReq: ((cpu1.busyAll - cpu0.busyAll) * 1000) / CLK_TCK / wrk.requests,
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

