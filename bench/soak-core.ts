/**
 * The fork-safety soak (docs/soak.md): serves a GC-churning app on a
 * process engine under a bounded load and watches the server from /proc.
 * Used by bench/soak.ts (`npm run soak`) and test/soak.test.ts.
 *
 * Counted, with a target of zero for the first four:
 *  - hung: a child alive past its deadline (see `SoakOptions.kind`), plus
 *    the children a watchdog had to end: "exited 124" reaps (a fork child's
 *    alarm) and WORKER TIMEOUT kills (the prefork master's heartbeat check);
 *  - zombies: children in state Z 1 s after the load ended, and "lingering"
 *    zombies during the run: a child seen in state Z across more than
 *    ZOMBIE_GRACE_MS (a zombie is normal between the child's exit and the
 *    parent's waitpid; one the parent has not reaped within 1 s is not);
 *  - fd delta: the parent's open descriptors after the load minus before;
 *  - failed requests: non-2xx responses, connection errors, truncated
 *    bodies and client time-outs;
 * and, as evidence for the first: 503 responses the watchdog wrote,
 * "exited 124" reap lines (the watchdog's exit status), the prefork
 * master's WORKER TIMEOUT lines, and other abnormal exits.
 */
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLK_TCK, TreeSampler, fdCount, readStat, sleep, treePids, uptimeSeconds, waitUntil, type ProcSample } from './proc.js';
import { CLI, ROOT, startServer } from './server.js';

export const CHURN_APP = path.join(ROOT, 'test/fixtures/churn.ts');
/** A zombie reaped within this long is a normal transient. */
export const ZOMBIE_GRACE_MS = 1000;
/** A child asleep (state S or D) without any progress (CPU time or a context switch) for this long, during the load, is "stalled". */
export const STALL_MS = 2000;

export interface SoakOptions {
  name: string;
  /** 'fork': one child per connection, deadline = its start + timeout + 1 s. 'prefork': workers, deadline = its last progress (CPU time or a context switch) + timeout + 1 s. */
  kind: 'fork' | 'prefork';
  /** Engine arguments after APP, e.g. ['--engine', 'prefork', '--workers', '2', '--max-requests', '50']. */
  engineArgs: string[];
  requests: number;
  concurrency?: number;
  /** The server's --timeout (seconds): its watchdog's deadline. Default 10. */
  timeoutS?: number;
  /** Bound of the whole load in ms. Default 10 min. */
  maxMs?: number;
  /** false: start `node bin/forkserve.js` with FORKSERVE_NO_REEXEC=1 (no --single-threaded). Default true. */
  singleThreaded?: boolean;
  /** false: FORKSERVE_NO_PARKING=1, fork() leaves Node's platform threads unparked (docs/fork-in-node.md §2). Default true. */
  parking?: boolean;
  app?: string;
  /** Extra environment for the server (e.g. CHURN_* sizes). */
  env?: Record<string, string>;
  /** Where the server's stderr goes. Default: a file in the OS tmp dir. */
  logFile?: string;
  /** Progress lines to this function. */
  progress?: (line: string) => void;
}

export interface SoakResult {
  name: string;
  flags: string;
  singleThreaded: boolean;
  /** fork() parked Node's platform threads (not FORKSERVE_NO_PARKING=1). */
  parking: boolean;
  /** Set when the server itself ended during the load ("killed by SIGSEGV"); its descriptors could then not be counted. */
  serverDied?: string;
  requested: number;
  completed: number;
  ok: number;
  failed: number;
  failures: { non2xx: number; connErrors: number; incomplete: number; timeouts: number; notSent: number };
  status503: number;
  /** Children past their deadline or ended by a watchdog (exited 124, WORKER TIMEOUT), each counted once. */
  hung: number;
  /** Children seen alive past their deadline, not (yet) ended by a watchdog. */
  pastDeadline: number;
  hungDetails: string[];
  /** Children asleep without progress for STALL_MS or more during the load, and where they slept. */
  stalled: number;
  stalledWchans: Record<string, number>;
  exited124: number;
  workerTimeouts: number;
  abnormalExits: number;
  zombiesAtEnd: number;
  zombiesLingering: number;
  zombiesMaxSeen: number;
  fdBefore: number;
  fdAfter: number;
  fdDelta: number;
  childrenSeen: number;
  maxChildLifetimeS: number;
  parentRssMiB: number;
  timeoutS: number;
  seconds: number;
  rps: number;
  logFile: string;
  /** When merged from several server instances: each one's watchdog 503s. */
  perInstance503?: number[];
}

/** Adds up the results of several server instances of one phase (mergeSoak(name, [a, b, c])). */
export function mergeSoak(name: string, rs: SoakResult[]): SoakResult {
  const sum = (f: (r: SoakResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: SoakResult) => number) => rs.reduce((a, r) => Math.max(a, f(r)), 0);
  const wchans: Record<string, number> = {};
  for (const r of rs) for (const [w, n] of Object.entries(r.stalledWchans)) wchans[w] = (wchans[w] ?? 0) + n;
  const seconds = sum((r) => r.seconds);
  return {
    ...rs[0],
    name,
    requested: sum((r) => r.requested),
    completed: sum((r) => r.completed),
    ok: sum((r) => r.ok),
    failed: sum((r) => r.failed),
    failures: {
      non2xx: sum((r) => r.failures.non2xx),
      connErrors: sum((r) => r.failures.connErrors),
      incomplete: sum((r) => r.failures.incomplete),
      timeouts: sum((r) => r.failures.timeouts),
      notSent: sum((r) => r.failures.notSent),
    },
    status503: sum((r) => r.status503),
    hung: sum((r) => r.hung),
    pastDeadline: sum((r) => r.pastDeadline),
    hungDetails: rs.flatMap((r) => r.hungDetails),
    stalled: sum((r) => r.stalled),
    stalledWchans: wchans,
    exited124: sum((r) => r.exited124),
    workerTimeouts: sum((r) => r.workerTimeouts),
    abnormalExits: sum((r) => r.abnormalExits),
    zombiesAtEnd: sum((r) => r.zombiesAtEnd),
    zombiesLingering: sum((r) => r.zombiesLingering),
    zombiesMaxSeen: max((r) => r.zombiesMaxSeen),
    fdBefore: rs[0].fdBefore,
    fdAfter: rs[rs.length - 1].fdAfter,
    // Each instance's own delta, added: instances are separate processes.
    fdDelta: sum((r) => r.fdDelta),
    childrenSeen: sum((r) => r.childrenSeen),
    maxChildLifetimeS: max((r) => r.maxChildLifetimeS),
    parentRssMiB: max((r) => r.parentRssMiB),
    seconds,
    rps: sum((r) => r.completed) / seconds,
    logFile: rs.map((r) => r.logFile).join(', '),
    perInstance503: rs.map((r) => r.status503),
    serverDied: rs.filter((r) => r.serverDied).map((r) => r.serverDied).join(', ') || undefined,
  };
}

interface Outcome {
  kind: 'ok' | 'non2xx' | 'conn' | 'incomplete' | 'timeout';
  status?: number;
}

/** One GET on a new connection (Connection: close), read to the end; never rejects. */
function request(port: number, i: number, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ kind: 'timeout' }), timeoutMs);
    sock.on('connect', () => sock.end(`GET /soak/${i} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => done({ kind: 'conn' }));
    sock.on('close', () => {
      const raw = Buffer.concat(chunks);
      const headEnd = raw.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.subarray(0, 16).toString('latin1'));
      if (!m || headEnd < 0) return done({ kind: raw.length ? 'incomplete' : 'conn' });
      const status = Number(m[1]);
      if (status < 200 || status >= 300) return done({ kind: 'non2xx', status });
      const head = raw.subarray(0, headEnd).toString('latin1');
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (cl && raw.length - headEnd - 4 < Number(cl[1])) return done({ kind: 'incomplete', status });
      done({ kind: 'ok', status });
    });
  });
}

interface ChildTrack {
  pid: number;
  start: number; // starttime ticks
  /** Seconds alive when last seen, counted from the start of the load at the earliest. */
  lifetimeS: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** CPU ticks + context switches when last seen: a change is progress (a waiting worker still wakes for its timers). */
  progress: number;
  lastProgressMs: number;
  zFirstMs?: number;
  zLastMs?: number;
  hung?: string;
  stalled?: string;
}

/** The kernel function a sleeping process waits in (/proc/PID/wchan), e.g. futex_wait_queue. */
function wchan(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/wchan`, 'utf8').trim() || '?';
  } catch {
    return '?';
  }
}

/** Runs one soak phase: starts the server, loads it, watches it, stops it. */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const timeoutS = o.timeoutS ?? 10;
  const concurrency = o.concurrency ?? 32;
  const maxMs = o.maxMs ?? 10 * 60_000;
  const deadlineMs = (timeoutS + 1) * 1000;
  const single = o.singleThreaded ?? true;
  const logFile = o.logFile ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-soak-')), `${o.name.replace(/\W+/g, '-')}.log`);
  const say = o.progress ?? (() => {});
  const args = [CLI, o.app ?? CHURN_APP, ...o.engineArgs, '--timeout', String(timeoutS), '--bind', '127.0.0.1:0', '--no-access-log'];
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env };
  if (single) delete env.FORKSERVE_NO_REEXEC;
  else env.FORKSERVE_NO_REEXEC = '1';
  const parking = o.parking ?? true;
  if (parking) delete env.FORKSERVE_NO_PARKING;
  else env.FORKSERVE_NO_PARKING = '1';
  const server = await startServer({ command: process.execPath, args, env, logFile, startTimeoutMs: 60_000 });
  const pid = server.pid;
  try {
    const execArgs = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const flags = (execArgs.includes('--single-threaded') ? 'node --single-threaded' : 'node (no --single-threaded)') +
      (parking ? '' : ', FORKSERVE_NO_PARKING=1');
    if (o.kind === 'prefork') {
      const workers = Number(o.engineArgs[o.engineArgs.indexOf('--workers') + 1]) || 2;
      await waitUntil(() => treePids(pid).length >= 1 + workers, 30_000, 50);
    }
    await sleep(500);
    const fdBefore = fdCount(pid);
    const parentRssMiB = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

    // ---- watch the tree every 100 ms
    const tracks = new Map<string, ChildTrack>();
    let loadRunning = true;
    let zombiesMaxSeen = 0;
    const t0 = Date.now();
    const upAtT0 = uptimeSeconds();
    const onSample = (stats: ProcSample[]) => {
      const now = Date.now();
      const up = uptimeSeconds();
      let z = 0;
      for (const s of stats) {
        if (s.pid === pid) continue;
        const key = `${s.pid}:${s.starttime}`;
        let t = tracks.get(key);
        const progress = s.utime + s.stime + s.switches;
        if (!t) {
          t = { pid: s.pid, start: s.starttime, lifetimeS: 0, firstSeenMs: now, lastSeenMs: now, progress, lastProgressMs: now };
          tracks.set(key, t);
        }
        t.lastSeenMs = now;
        t.lifetimeS = up - Math.max(s.starttime / CLK_TCK, upAtT0);
        if (progress !== t.progress) {
          t.progress = progress;
          t.lastProgressMs = now;
        }
        if (s.state === 'Z') {
          z++;
          t.zFirstMs ??= now;
          t.zLastMs = now;
          continue;
        }
        if (!loadRunning) continue;
        if (!t.stalled && (s.state === 'S' || s.state === 'D') && now - Math.max(t.lastProgressMs, t0) >= STALL_MS) {
          t.stalled = wchan(s.pid);
        }
        if (t.hung) continue;
        if (o.kind === 'fork') {
          const age = up - s.starttime / CLK_TCK;
          if (age * 1000 > deadlineMs) t.hung = `child ${s.pid} alive ${age.toFixed(1)} s (state ${s.state}) > ${timeoutS + 1} s`;
        } else if (now - Math.max(t.lastProgressMs, t0) > deadlineMs) {
          t.hung = `worker ${s.pid} no progress (CPU, context switch) for ${((now - t.lastProgressMs) / 1000).toFixed(1)} s (state ${s.state}) > ${timeoutS + 1} s`;
        }
      }
      zombiesMaxSeen = Math.max(zombiesMaxSeen, z);
    };
    const sampler = new TreeSampler(pid, 100, onSample, maxMs + 120_000);

    // ---- the load: `requests` GETs, `concurrency` at a time, bounded in time
    const counts = { ok: 0, non2xx: 0, conn: 0, incomplete: 0, timeout: 0 };
    let status503 = 0;
    let sent = 0;
    let completed = 0;
    const stopAt = Date.now() + maxMs;
    const clientTimeoutMs = (timeoutS + 10) * 1000;
    let lastReport = Date.now();
    const worker = async () => {
      while (sent < o.requests && Date.now() < stopAt) {
        const i = sent++;
        const r = await request(server.port, i, clientTimeoutMs);
        completed++;
        counts[r.kind]++;
        if (r.status === 503) status503++;
        if (Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          say(`${o.name}: ${completed}/${o.requests} (${(completed / ((Date.now() - t0) / 1000)).toFixed(0)} req/s), failed ${completed - counts.ok}, zombies max ${zombiesMaxSeen}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, o.requests) }, worker));
    const seconds = (Date.now() - t0) / 1000;
    loadRunning = false;

    // ---- after the load: zombies 1 s later, then the descriptors once the tree is at rest
    await sleep(ZOMBIE_GRACE_MS);
    sampler.sample();
    const zombiesAtEnd = treePids(pid).slice(1).filter((p) => readStat(p)?.state === 'Z').length;
    const workersAtRest = o.kind === 'prefork' ? Number(o.engineArgs[o.engineArgs.indexOf('--workers') + 1]) || 2 : 0;
    await waitUntil(() => {
      const kids = treePids(pid).slice(1);
      return kids.length <= workersAtRest && kids.every((p) => readStat(p)?.state !== 'Z');
    }, 15_000, 100);
    await sleep(300);
    sampler.stop();
    const serverDied = server.exited() ? (server.exitStatus() ?? 'exited') : undefined;
    const fdAfter = serverDied ? fdBefore : fdCount(pid);

    const log = server.log();
    const all = [...tracks.values()];
    const hungDetails = all.filter((t) => t.hung).map((t) => t.hung!);
    const stalledWchans: Record<string, number> = {};
    for (const t of all) if (t.stalled) stalledWchans[t.stalled] = (stalledWchans[t.stalled] ?? 0) + 1;
    const lingering = all.filter((t) => t.zFirstMs !== undefined && t.zLastMs! - t.zFirstMs >= ZOMBIE_GRACE_MS).length;
    const lifetimes = all.map((t) => t.lifetimeS);
    const exited124 = (log.match(/exited 124/g) ?? []).length;
    const workerTimeouts = (log.match(/WORKER TIMEOUT/g) ?? []).length;
    // Each hung child once: the pids seen past their deadline and those a watchdog ended.
    const hungPids = new Set([
      ...all.filter((t) => t.hung).map((t) => String(t.pid)),
      ...[...log.matchAll(/(?:Reaped child |Worker )(\d+):? exited 124/g)].map((m) => m[1]),
      ...[...log.matchAll(/WORKER TIMEOUT \(pid:(\d+)\)/g)].map((m) => m[1]),
    ]);
    // Reaps other than a clean exit 0 (or the watchdog's 124, counted above).
    const abnormalExits = (log.match(/(Reaped child \d+|Worker \d+):? (killed by \w+|exited (?!0\b|124\b)\d+)/g) ?? []).length;
    // Requests never sent (the time bound hit first) are not failures: "completed / asked" shows them.
    const failed = completed - counts.ok;
    return {
      name: o.name,
      flags,
      singleThreaded: execArgs.includes('--single-threaded'),
      parking,
      serverDied,
      requested: o.requests,
      completed,
      ok: counts.ok,
      failed,
      failures: { non2xx: counts.non2xx, connErrors: counts.conn, incomplete: counts.incomplete, timeouts: counts.timeout, notSent: o.requests - completed },
      status503,
      hung: hungPids.size,
      pastDeadline: hungDetails.length,
      hungDetails,
      stalled: all.filter((t) => t.stalled).length,
      stalledWchans,
      exited124,
      workerTimeouts,
      abnormalExits,
      zombiesAtEnd,
      zombiesLingering: lingering,
      zombiesMaxSeen,
      fdBefore,
      fdAfter,
      fdDelta: fdAfter - fdBefore,
      childrenSeen: all.length,
      maxChildLifetimeS: lifetimes.reduce((a, b) => Math.max(a, b), 0),
      parentRssMiB,
      timeoutS,
      seconds,
      rps: completed / seconds,
      logFile,
    };
  } finally {
    await server.stop('SIGTERM', 10_000);
  }
}

/** The results as a Markdown table, one column per phase. */
export function soakTable(results: SoakResult[]): string {
  const row = (label: string, f: (r: SoakResult) => string | number) => `| ${label} | ${results.map((r) => f(r)).join(' | ')} |`;
  const verdict = (n: number) => (n === 0 ? '0 ✔' : `**${n}** ✘`);
  return [
    `| | ${results.map((r) => r.name).join(' | ')} |`,
    `| --- |${results.map(() => ' ---: |').join('')}`,
    row('node', (r) => r.flags),
    row('server --timeout (watchdog)', (r) => `${r.timeoutS} s`),
    row('server instances', (r) => r.perInstance503?.length ?? 1),
    row('requests completed / asked', (r) => `${r.completed.toLocaleString('en-US')} / ${r.requested.toLocaleString('en-US')}`),
    row('time, req/s', (r) => `${r.seconds.toFixed(0)} s, ${r.rps.toFixed(0)}`),
    row('parent RSS before the load', (r) => `${r.parentRssMiB.toFixed(0)} MiB`),
    row('**hung** children (the three rows below, each child once)', (r) => verdict(r.hung)),
    row('  alive past the deadline', (r) => r.pastDeadline),
    row('  ended by the watchdog: "exited 124" reaps', (r) => r.exited124),
    row('  ended by the master: WORKER TIMEOUT', (r) => r.workerTimeouts),
    row('**zombies** at the end (1 s after the load)', (r) => verdict(r.zombiesAtEnd)),
    row(`**zombies** lingering > ${ZOMBIE_GRACE_MS} ms during the run`, (r) => verdict(r.zombiesLingering)),
    row('zombies seen at once, max (transient)', (r) => r.zombiesMaxSeen),
    row('**server died** during the load', (r) => (r.serverDied ? `**${r.serverDied}** ✘` : 'no ✔')),
    row('**parent fd delta** (before → after)', (r) => `${verdict(r.fdDelta)} (${r.fdBefore} → ${r.fdAfter})${r.serverDied ? ', not counted for a dead server' : ''}`),
    row('**failed requests**', (r) => verdict(r.failed)),
    row('  non-2xx / conn. errors / truncated / time-outs / not sent', (r) => `${r.failures.non2xx} / ${r.failures.connErrors} / ${r.failures.incomplete} / ${r.failures.timeouts} / ${r.failures.notSent}`),
    row(`stalled: asleep, no CPU nor context switch ≥ ${STALL_MS / 1000} s (wchan)`, (r) => `${r.stalled}${r.stalled ? ` (${Object.entries(r.stalledWchans).map(([w, n]) => `${w} ×${n}`).join(', ')})` : ''}`),
    row('503 written by the watchdog', (r) => `${r.status503}${r.perInstance503 ? ` (per server: ${r.perInstance503.join(', ')})` : ''}`),
    row('abnormal exits (killed by a signal, or status ≠ 0 and ≠ 124)', (r) => r.abnormalExits),
    row('children seen (sampled every 100 ms)', (r) => r.childrenSeen.toLocaleString('en-US')),
    row('longest child lifetime seen', (r) => `${r.maxChildLifetimeS.toFixed(1)} s`),
  ].join('\n') + '\n';
}

/** True when hung, zombies, fd delta and failed requests are all zero (and every request was sent, and the server lived). */
export function soakClean(r: SoakResult): boolean {
  return !r.serverDied && r.hung === 0 && r.zombiesAtEnd === 0 && r.zombiesLingering === 0 && r.fdDelta === 0 && r.failed === 0 && r.completed === r.requested;
}
