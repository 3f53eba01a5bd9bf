// The prefork engine's master, in gunicorn's terms: worker replacement,
// hung-worker timeout, recycling, and the signals SIGHUP, SIGTTIN, SIGTTOU,
// SIGINT. Also the fork engine's --max-children bound.
import fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, childPids, startServer, waitFor, zombieChildren, type RunningServer } from './helpers/server.js';

const apps = `${FIXTURES}/apps.ts`;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const pidOf = async (url: string) => Number(/pid (\d+)/.exec(await (await fetch(url, { headers: { connection: 'close' } })).text())![1]);

describe('prefork', () => {
  it('kills a worker silent past --timeout with SIGKILL, replaces it, and keeps serving', async () => {
    server = await startServer(`${apps}:hang`, ['--engine', 'prefork', '--workers', '2', '--timeout', '2']);
    const s = server;
    await waitFor(() => childPids(s.pid).length === 2);
    const before = childPids(s.pid);
    const hung = fetch(`${s.url}/hang`).then((r) => r.status, () => 'closed');
    // The watchdog answers 503 (nothing was sent yet) or the master's SIGKILL closes the connection.
    expect(['closed', 503]).toContain(await hung);
    expect(await waitFor(() => /WORKER TIMEOUT|exited 124/.test(s.stderr()), 8000)).toBe(true);
    expect(await waitFor(() => childPids(s.pid).length === 2 && childPids(s.pid).some((p) => !before.includes(p)), 8000)).toBe(true);
    expect((await fetch(`${s.url}/`)).status).toBe(200);
    expect(zombieChildren(s.pid)).toEqual([]);
  });

  it('recycles a worker after --max-requests', async () => {
    server = await startServer(`${apps}:hang`, ['--engine', 'prefork', '--workers', '1', '--max-requests', '5', '--no-access-log']);
    const s = server;
    const pids = new Set<number>();
    for (let i = 0; i < 12; i++) pids.add(await pidOf(`${s.url}/`));
    expect(pids.size).toBe(3); // 5 + 5 + 2 requests: three workers in turn
    expect(s.stderr()).toMatch(/served 5 requests \(max-requests\)/);
  });

  it('adds and removes workers on SIGTTIN and SIGTTOU', async () => {
    server = await startServer(`${apps}:hang`, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    const s = server;
    expect(await waitFor(() => childPids(s.pid).length === 2)).toBe(true);
    process.kill(s.pid, 'SIGTTIN');
    expect(await waitFor(() => childPids(s.pid).length === 3, 10_000)).toBe(true);
    // Standard signals do not queue: send the second SIGTTOU after the first took effect.
    process.kill(s.pid, 'SIGTTOU');
    expect(await waitFor(() => childPids(s.pid).length === 2, 10_000)).toBe(true);
    process.kill(s.pid, 'SIGTTOU');
    expect(await waitFor(() => childPids(s.pid).length === 1, 10_000)).toBe(true);
    expect(s.stderr()).toMatch(/Number of workers: 1/);
    expect((await fetch(`${s.url}/`)).status).toBe(200);
  });

  it('reloads the app on SIGHUP with new workers and no dropped connections', async () => {
    const dir = fs.mkdtempSync('/tmp/forkserve-reload-');
    const file = `${dir}/app.ts`;
    const write = (v: string) => fs.writeFileSync(file, `export default (e: unknown, start: (s: string, h: [string, string][]) => void) => { start('200 OK', []); return '${v}'; };\n`);
    write('v1');
    server = await startServer(file, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    const s = server;
    await waitFor(() => childPids(s.pid).length === 2);
    const old = childPids(s.pid);
    expect(await (await fetch(s.url)).text()).toBe('v1');
    write('v2');
    // Requests keep flowing through the reload: none may fail.
    let failed = 0;
    let done = 0;
    let running = true;
    const load = (async () => {
      while (running) {
        try {
          const r = await fetch(s.url, { headers: { connection: 'close' } });
          await r.text();
          if (r.status !== 200) failed++;
        } catch {
          failed++;
        }
        done++;
      }
    })();
    process.kill(s.pid, 'SIGHUP');
    const swapped = await waitFor(() => {
      const now = childPids(s.pid);
      return now.length === 2 && now.every((p) => !old.includes(p));
    }, 10_000);
    running = false;
    await load;
    expect(swapped).toBe(true);
    expect(done).toBeGreaterThan(0);
    expect(failed).toBe(0);
    expect(await (await fetch(s.url)).text()).toBe('v2');
  });

  it('stops at once on SIGINT, and its workers with it', async () => {
    server = await startServer(`${apps}:slow`, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    const s = server;
    await waitFor(() => childPids(s.pid).length === 2);
    const workers = childPids(s.pid);
    void fetch(`${s.url}/?ms=20000`).catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    expect(await s.stop('SIGINT')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5000); // not the 20 s request, not the 30 s graceful timeout
    for (const w of workers) expect(fs.existsSync(`/proc/${w}`)).toBe(false);
  });
});

describe('fork --max-children', () => {
  it('waits for a child to exit before accepting again', async () => {
    server = await startServer(`${apps}:slow`, ['--engine', 'fork', '--max-children', '1', '--no-access-log']);
    const s = server;
    const first = fetch(`${s.url}/?ms=800`, { headers: { connection: 'close' } }).then((r) => r.text());
    await waitFor(() => childPids(s.pid).length === 1);
    const second = fetch(`${s.url}/?ms=0`, { headers: { connection: 'close' } }).then((r) => r.text());
    // While the first child lives, the second connection waits in the backlog: never two children.
    let most = 0;
    const watcher = setInterval(() => (most = Math.max(most, childPids(s.pid).filter((p) => fs.existsSync(`/proc/${p}`)).length)), 10);
    expect(await first).toBe('slept 800\n');
    expect(await second).toBe('slept 0\n');
    clearInterval(watcher);
    expect(most).toBe(1);
  });
});
