// `forkserve watch` (src/observe/watch.ts) and the snapshot differ behind it
// (src/observe/tracker.ts), against real process trees: the status-tree
// fixture (shared listening socket, a zombie, a child reaped after being a
// zombie) and the fork engine. Every process is started in its own process
// group and the group is SIGKILLed afterwards; every wait is bounded.

import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeWaitStatus, TreeTracker } from '../src/observe/tracker.js';
import { renderWatchFrame, watch } from '../src/observe/watch.js';
import { childPids, FIXTURES, ROOT, startServer, waitFor } from './helpers/server.js';
import { cleanupAfterEach, startTree as startTreeIn, type TreeFixture } from './helpers/status-tree.js';

const linux = process.platform === 'linux';
const { groups, cleanups } = cleanupAfterEach();

function spawnGroup(args: string[], stdout: 'pipe' | 'ignore' = 'pipe'): ChildProcess {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', stdout, 'inherit'], detached: true });
  groups.push(proc);
  return proc;
}

/** Everything `proc` writes on stdout until it is closed by every writer, within `ms`. */
function collect(proc: ChildProcess, ms: number): { text: () => string; ended: Promise<boolean> } {
  let text = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => (text += d));
  const ended = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    proc.stdout!.once('end', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  return { text: () => text, ended };
}

/** The status-tree fixture (test/helpers/status-tree.ts), cleaned up after each test. */
const startTree = (reapAfterMs: number): Promise<TreeFixture> => startTreeIn(reapAfterMs, groups);

/** A writable that records what is written; `tty` makes it look like a terminal of cols x rows. */
function sink(tty?: { columns: number; rows: number }): PassThrough & { isTTY?: boolean; columns?: number; rows?: number; text(): string } {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number; rows?: number; text(): string };
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('utf8')));
  s.text = () => text;
  if (tty) Object.assign(s, { isTTY: true, ...tty });
  return s;
}

describe('decodeWaitStatus', () => {
  it('decodes exits and signals as the W* macros do', () => {
    expect(decodeWaitStatus(3 << 8)).toMatchObject({ exited: true, exitCode: 3, signaled: false });
    expect(decodeWaitStatus(9)).toMatchObject({ exited: false, signaled: true, signal: 'SIGKILL', coreDumped: false });
    expect(decodeWaitStatus(11 | 0x80)).toMatchObject({ signaled: true, signal: 'SIGSEGV', coreDumped: true });
  });
});

describe.skipIf(!linux)('watch', () => {
  it('draws the tree with the zombie and its status, then the child reaped after being a zombie', async () => {
    // The child exits at ~1 s and is reaped at ~2 s: a zombie for ~1 s, four looks or more.
    const tree = await startTree(2000);
    const out = sink();
    await watch(tree.pid, { out, intervalMs: 250, iterations: 14 });
    const text = out.text();
    expect(text).not.toContain('\x1b['); // not a TTY: plain frames
    expect(text).toContain(`forkserve watch ${tree.pid}`);
    const frames = text.split(/\n(?=forkserve watch )/);
    expect(frames.length).toBe(14);
    const first = frames[0]!;
    for (const pid of [tree.pid, ...tree.holders, tree.zombie]) expect(first).toMatch(new RegExp(`^${pid} `, 'm'));
    expect(first).toMatch(new RegExp(`^${tree.zombie} +${tree.pid} +Z \\(zombie\\) +- +\\\\_ \\[node\\] <defunct> +\\[exited 7, not yet reaped\\]`, 'm'));
    expect(first).toMatch(/zombies [12]/);
    const last = frames[frames.length - 1]!;
    expect(last).not.toMatch(new RegExp(`^${tree.reaped} `, 'm'));
    expect(last).toContain(`${tree.reaped}`);
    expect(last).toMatch(new RegExp(`${tree.reaped} +node +reaped after being a zombie; exited 3 \\(status read from /proc while it was a zombie\\)`));
  });

  it('redraws in place on a terminal, within its width, and stops when the process is gone', async () => {
    const tree = await startTree(60_000);
    const out = sink({ columns: 60, rows: 12 });
    const done = watch(tree.pid, { out, intervalMs: 100, iterations: 100 });
    await new Promise((r) => setTimeout(r, 350));
    process.kill(-tree.proc.pid!, 'SIGKILL');
    const t0 = Date.now();
    await done;
    expect(Date.now() - t0).toBeLessThan(3000);
    const text = out.text();
    expect(text.startsWith('\x1b[?25l\x1b[2J\x1b[H')).toBe(true); // hide cursor, clear, home
    expect(text.endsWith('\x1b[?25h\n')).toBe(true); // cursor back, prompt on a new line
    expect(text).toContain(`PID ${tree.pid} is gone`);
    const frames = text.split('\x1b[H').slice(1);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    for (const frame of frames) {
      const lines = frame.replace(/\x1b\[J.*$/s, '').split('\n');
      for (const line of lines) expect(line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').length).toBeLessThanOrEqual(60);
      expect(lines.length).toBeLessThanOrEqual(12); // never more lines than rows: no scrolling
    }
  });

  it('shows the figures /metrics serves: RSS by role, each listener\'s accept queue, the master\'s counters', async () => {
    const server = await startServer(`${FIXTURES}/apps.ts:echo`, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    cleanups.push(() => server.stop());
    await waitFor(() => childPids(server.pid).length === 2, 15_000);
    for (let i = 0; i < 2; i++) expect((await fetch(`${server.url}/`, { headers: { connection: 'close' } })).status).toBe(200);
    const out = sink();
    await watch(server.pid, { out, iterations: 1 });
    expect(out.text()).toMatch(new RegExp(`^RSS master \\d+ MiB, 2 workers \\d+ MiB   accept queue 127\\.0\\.0\\.1:${server.port} 0   responses 2xx 2   reaped 0   timeouts 0$`, 'm'));
  });

  it('throws ESRCH for a pid that does not exist', async () => {
    await expect(watch(2 ** 22 + 4321, { out: sink(), iterations: 1 })).rejects.toMatchObject({ code: 'ESRCH' });
  });

  it('infers "seen gone" for a fork-engine child reaped between two looks', async () => {
    const server = await startServer('test/fixtures/apps.ts:slow');
    cleanups.push(() => server.stop('SIGINT')); // fast stop: the engine SIGKILLs its children
    const tracker = new TreeTracker(server.pid);
    tracker.sample();
    const sock = net.connect(server.port, '127.0.0.1');
    sock.on('error', () => {});
    cleanups.push(() => sock.destroy());
    sock.write('GET /?ms=1500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const child = await waitFor(() => childPids(server.pid)[0], 5000);
    expect(child).toBeGreaterThan(0);
    const seen = tracker.sample();
    const alive = seen.processes.find((p) => p.pid === child);
    expect(alive?.zombie).toBe(false);
    // The engine reaps it on SIGCHLD, at once: it is never a zombie long enough to be seen.
    await waitFor(() => !childPids(server.pid).includes(child!), 5000);
    const after = tracker.sample();
    const gone = after.newlyGone.find((g) => g.pid === child)!;
    expect(gone).toBeDefined();
    expect(gone.how).toBe('seen-gone');
    expect(gone.exitStatus).toBeNull();
    expect(renderWatchFrame(after, { intervalMs: 1000 }).join('\n')).toMatch(
      new RegExp(`${child} +forkserve: chil +exited \\(seen gone\\): last seen [SR], exit status not observed`),
    );
  });

  it('watchMain stops on Ctrl-C (SIGINT) with status 0', async () => {
    const tree = await startTree(60_000);
    const proc = spawnGroup([path.join(FIXTURES, 'observer-entry.mjs'), 'watch', String(tree.pid), '--interval', '100']);
    const out = collect(proc, 10_000);
    await waitFor(() => out.text().includes(`forkserve watch ${tree.pid}`), 5000);
    const exited = new Promise<number | string | null>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig)));
    proc.kill('SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 3000))]);
    expect(code).toBe(0);
  });

  it('watchMain rejects bad arguments with status 2', async () => {
    const { watchMain } = await import('../src/observe/watch.js');
    const err = process.stderr.write;
    process.stderr.write = () => true;
    try {
      expect(await watchMain([])).toBe(2);
      expect(await watchMain(['abc'])).toBe(2);
      expect(await watchMain(['1', '--interval', '5'])).toBe(2);
    } finally {
      process.stderr.write = err;
    }
  });

  it('leaves the observer out of the tree it draws', async () => {
    // Watch our own parent's tree from a child: this process (the watcher) is in it.
    const tracker = new TreeTracker(process.ppid, { exclude: [process.pid] });
    const snap = tracker.sample();
    expect(snap.processes.some((p) => p.pid === process.pid)).toBe(false);
    expect(snap.excluded).toEqual([process.pid]);
  });
});

describe.skipIf(!linux)('launching an observer for oneself', () => {
  it('starts the watcher outside our tree, on our stdout, and it stops when we exit', async () => {
    // A stand-in for the server: launches the watcher for itself, reports its own children, lives 1.5 s.
    const script = `
      import fs from 'node:fs';
      const { launchObserver } = await import(${JSON.stringify(path.join(ROOT, 'dist/observe/launch.js'))});
      await launchObserver(['watch', String(process.pid), '--interval', '200'], { entry: ${JSON.stringify(path.join(FIXTURES, 'observer-entry.mjs'))} });
      const kids = fs.readdirSync('/proc/self/task').flatMap((t) => fs.readFileSync('/proc/self/task/' + t + '/children', 'utf8').trim().split(/\\s+/).filter(Boolean));
      fs.writeSync(1, 'LAUNCHED children=[' + kids.join(',') + ']\\n');
      setTimeout(() => {}, 1500);
    `;
    const proc = spawnGroup(['--input-type=module', '-e', script]);
    const out = collect(proc, 10_000);
    // stdout ends only when both the stand-in and the watcher have closed it: the watcher exited by itself.
    const ended = await out.ended;
    const text = out.text();
    expect(ended).toBe(true);
    expect(text).toContain('LAUNCHED children=[]'); // the watcher is not our child (nor is the intermediate, reaped)
    expect(text).toContain(`forkserve watch ${proc.pid}`);
    expect(text).toContain(`PID ${proc.pid} is gone`);
    expect(text).not.toContain('this watcher'); // it was never in the tree
  });
});
