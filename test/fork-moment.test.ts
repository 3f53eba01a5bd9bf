// The fork moment (issue #13): under --trace-forks the fork engine makes
// each stage of a connection last, and forkserve/observe's ForkTimeline sees
// all of them from outside: accepted (the parent alone holds the socket),
// forked (parent and child: 2 references), the parent's close (the child
// alone), the child's exit (a zombie, its status kept) and the reap. The
// same stages reach `forkserve watch` and the server's own log.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ForkTimeline, type ForkConnection } from '../src/observe.js';
import { CLI, ROOT, startServer, until, type RunningServer } from './helpers/server.js';

const linux = process.platform === 'linux';
const PAUSE_MS = 500;

const servers: RunningServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.stop('SIGINT');
});

/** One GET with curl, as a user would send it; resolves with the status code curl printed. */
function curl(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '20', url]);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('exit', () => resolve(out));
  });
}

describe.skipIf(!linux)('the fork moment (--trace-forks)', () => {
  it('ForkTimeline sees the five stages of one connection, with the kernel\'s reference counts', async () => {
    const server = await startServer('examples/hello.ts', ['-k', 'fork', '--trace-forks', '--trace-pause', String(PAUSE_MS)]);
    servers.push(server);
    const timeline = new ForkTimeline(server.pid);
    const answered = curl(`${server.url}/moment`);
    const conn = await until('a connection seen through all five stages', () => {
      const [c] = timeline.sample();
      return c?.stages.some((s) => s.stage === 'reaped') ? c : null;
    }, 15_000, 40) as ForkConnection;
    expect(await answered).toBe('200');

    expect(conn.stages.map((s) => s.stage)).toEqual(['accepted', 'forked', 'parent-closed', 'child-exited', 'reaped']);
    const child = conn.child!;
    expect(child).toBeGreaterThan(0);
    expect(child).not.toBe(server.pid);
    expect(conn.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    const [accepted, forked, closed, exited] = conn.stages;
    // 1. Only the parent holds the connected socket.
    expect(accepted!.holders.map((h) => h.pid)).toEqual([server.pid]);
    // 2. Parent and child: one open file description, two references, under one descriptor number.
    expect(forked!.holders.map((h) => h.pid).sort()).toEqual([server.pid, child].sort());
    expect(new Set(forked!.holders.map((h) => h.fd)).size).toBe(1);
    // 3. The parent closed its copy: the child's is the one reference left.
    expect(closed!.holders).toEqual([{ pid: child, fd: forked!.holders[0]!.fd }]);
    // 4. The child exited 0 and was seen as a zombie (its status read from /proc before the reap).
    expect(exited!.exitStatus).toMatchObject({ exited: true, exitCode: 0 });
    for (let i = 1; i < conn.stages.length; i++) expect(conn.stages[i]!.at.getTime()).toBeGreaterThanOrEqual(conn.stages[i - 1]!.at.getTime());

    // The server's log tells the same story, naming the same child.
    const log = await until('the reap in the log', () => (server.stderr().includes(`reaped child ${child}`) ? server.stderr() : null));
    expect(log).toMatch(/Trace: accept\(2\) returned fd \d+ for 127\.0\.0\.1:\d+: only the parent holds the connected socket \(1 reference\)/);
    expect(log).toContain(`Trace: fork(2) made child ${child}: its copy of fd`);
    expect(log).toContain(`only child ${child} holds the socket (1 reference)`);
    expect(log).toContain(`Trace: child ${child} exited 0: the kernel closed its descriptors`);
  }, 30_000);

  it('forkserve watch shows the stages as they happen', async () => {
    const server = await startServer('examples/hello.ts', ['-k', 'fork', '--trace-forks', '--trace-pause', String(PAUSE_MS)]);
    servers.push(server);
    const watcher = spawn(process.execPath, [CLI, 'watch', String(server.pid), '--interval', '100', '--iterations', '150'], { cwd: ROOT });
    let out = '';
    watcher.stdout.on('data', (d) => (out += d));
    try {
      await until('the first frame', () => out.includes('forkserve watch'), 8000);
      expect(await curl(`${server.url}/`)).toBe('200');
      const line = await until('a fork-moment line through the reap', () => /^ {2}127\.0\.0\.1:\d+ child \d+: accepted .*reaped \+[\d.]+ s$/m.exec(out)?.[0], 10_000);
      expect(line).toMatch(/forked \+[\d.]+ s \(2 references\), parent closed \+[\d.]+ s \(1 reference\), child exited \+[\d.]+ s, exited 0, a zombie/);
      expect(out).toContain('The fork moment');
    } finally {
      watcher.kill('SIGINT');
    }
  }, 30_000);
});
