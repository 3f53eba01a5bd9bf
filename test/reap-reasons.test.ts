// Every reaped worker or child says why it ended, so that a kill is never
// ambiguous (gunicorn's "Perhaps out of memory?"): the master's --timeout
// kill, the kernel's OOM killer (produced for real in a memory cgroup),
// another signal (the fork engine's request watchdog, exit 124, is
// test/fork-engine.test.ts's); and --max-worker-rss's graceful recycling.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryControllerAvailable, memoryGroup } from './helpers/cgroup.js';
import { FIXTURES, childPids, startServer, waitFor, type RunningServer } from './helpers/server.js';
import { startWrk } from './helpers/wrk.js';

const apps = `${FIXTURES}/apps.ts`;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('reap reasons', () => {
  it('prefork: a worker killed for --timeout says so in its reap line', async () => {
    server = await startServer(`${apps}:hang`, ['--engine', 'prefork', '--workers', '1', '--timeout', '2', '--no-access-log']);
    const s = server;
    await waitFor(() => childPids(s.pid).length === 1);
    const [worker] = childPids(s.pid);
    void fetch(`${s.url}/hang`).catch(() => {});
    expect(await waitFor(() => s.stderr().includes(`Worker ${worker} killed by SIGKILL`), 10_000), s.stderr()).toBe(true);
    expect(s.stderr()).toContain(`Worker ${worker} killed by SIGKILL: the master's --timeout kill (no heartbeat for 2 s); replacing it`);
  });

  it('prefork: a worker killed by another signal says which', async () => {
    server = await startServer(`${apps}:hang`, ['--engine', 'prefork', '--workers', '1', '--no-access-log']);
    const s = server;
    await waitFor(() => childPids(s.pid).length === 1);
    const [worker] = childPids(s.pid);
    process.kill(worker, 'SIGKILL');
    expect(await waitFor(() => s.stderr().includes(`Worker ${worker} killed by SIGKILL; replacing it`), 10_000), s.stderr()).toBe(true);
  });

  describe.skipIf(!memoryControllerAvailable()).each([['prefork', '--workers', '1'], ['fork']])('the kernel OOM killer, %s engine', (engine, ...extra) => {
    it('is named as the reason, from the memory cgroup\'s oom_kill count', async () => {
      const group = memoryGroup(600);
      try {
        server = await startServer(`${apps}:grow`, ['--engine', engine, ...extra, '--no-access-log'], group.enter);
        const s = server;
        const status = await fetch(`${s.url}/grow?mb=2048`).then((r) => r.status, () => 'closed');
        expect(['closed', 500, 503]).toContain(status);
        expect(await waitFor(() => group.oomKills() > 0, 10_000)).toBe(true);
        const line = engine === 'fork' ? /Reaped child \d+: killed by SIGKILL: the kernel's OOM killer \(memory cgroup oom_kill \d+\)/ : /Worker \d+ killed by SIGKILL: the kernel's OOM killer \(memory cgroup oom_kill \d+\); replacing it/;
        expect(await waitFor(() => line.test(s.stderr()), 10_000), s.stderr()).toBe(true);
        // The server goes on.
        expect((await fetch(`${s.url}/`)).status).toBe(200);
      } finally {
        await server?.stop();
        server = undefined;
        await group.remove();
      }
    }, 40_000);
  });
});

describe('--max-worker-rss', () => {
  it.each(['prefork', 'node'])('%s: replaces a worker whose resident set passes the bound, gracefully: no failed request under wrk', async (engine) => {
    server = await startServer(`${apps}:grow`, ['--engine', engine, '--workers', '2', '--max-worker-rss', '250', '--no-access-log']);
    const s = server;
    await waitFor(() => childPids(s.pid).length === 2);
    const before = childPids(s.pid);
    const wrk = startWrk(['-t1', '-c4', '-d6s', '--timeout', '5s', `${s.url}/`]);
    // One request makes its worker keep 320 MiB more: the master sees it within a second.
    const grown = Number(/pid (\d+)/.exec(await (await fetch(`${s.url}/grow?mb=320`)).text())![1]);
    expect(before).toContain(grown);
    expect(await waitFor(() => new RegExp(`Worker ${grown} uses \\d+ MiB, over --max-worker-rss 250 MiB: replacing it gracefully`).test(s.stderr()), 10_000), s.stderr()).toBe(true);
    expect(await waitFor(() => !childPids(s.pid).includes(grown) && childPids(s.pid).length === 2, 10_000)).toBe(true);
    const counts = await wrk.done;
    expect(counts.requests, counts.output).toBeGreaterThan(100);
    expect(counts.socketErrors, counts.output).toBe(0);
    expect(counts.non2xx, counts.output).toBe(0);
    expect(await waitFor(() => s.stderr().includes(`Worker ${grown} exited: exited 0: replaced for --max-worker-rss`), 5000), s.stderr()).toBe(true);
  }, 30_000);
});
