// Zero-downtime binary upgrade (src/upgrade.ts), as gunicorn's, unicorn's
// and nginx's: SIGUSR2 starts a new master on the same sockets, SIGWINCH
// stops the old one's workers, SIGTERM ends it; or SIGHUP to the old one and
// SIGTERM to the new one roll back. Under wrk load, on every multi-process
// engine: no failed request, no connection error.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { childPids, FIXTURES, startServer, waitFor, type RunningServer } from './helpers/server.js';
import { wrkCounts } from './helpers/wrk.js';

const run = promisify(execFile);
const linux = process.platform === 'linux';
const APP = `${FIXTURES}/apps.ts:echo`;

let dir = '';
let server: RunningServer | undefined;
const extra: number[] = [];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-upgrade-'));
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  for (const pid of extra.splice(0)) {
    if (!(pid > 0)) continue; // kill(0) would signal our own process group
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const readPid = (file: string) => (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8').trim()) : 0);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
/** The parent of pid, from /proc/PID/stat. */
const ppid = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);

async function get(url: string): Promise<{ status: number; pid: number }> {
  const res = await fetch(url);
  const body = (await res.json()) as { pid: number };
  return { status: res.status, pid: body.pid };
}

/** Starts the server with --pid in dir; returns it and its pid-file path. */
async function startWithPid(engine: string, name: string): Promise<{ s: RunningServer; pidFile: string }> {
  const pidFile = path.join(dir, `${name}.pid`);
  const s = await startServer(APP, ['--engine', engine, '--workers', '2', '--pid', pidFile, '--no-access-log']);
  server = s;
  return { s, pidFile };
}

/** SIGUSR2 to the old master: waits for the new master's pid file (FILE.2) and its "Listening at" line. */
async function upgrade(s: RunningServer, pidFile: string): Promise<number> {
  process.kill(s.pid, 'SIGUSR2');
  const next = await waitFor(() => readPid(`${pidFile}.2`), 30_000);
  expect(next).toBeGreaterThan(0);
  extra.push(next);
  expect(await waitFor(() => new RegExp(`Listening at: http://127\\.0\\.0\\.1:${s.port} \\(${next}\\) \\(socket from the old master`).test(s.stderr()), 30_000)).toBe(true);
  expect(ppid(next)).toBe(s.pid);
  return next;
}

/** SIGWINCH to the old master: waits until the new master is its only child left. */
async function stopOldWorkers(s: RunningServer, next: number): Promise<void> {
  process.kill(s.pid, 'SIGWINCH');
  expect(await waitFor(() => childPids(s.pid).every((p) => p === next), 15_000)).toBe(true);
}

describe.skipIf(!linux)('binary upgrade: SIGUSR2, SIGWINCH, SIGTERM', () => {
  for (const engine of ['fork', 'prefork', 'node']) {
    it(`${engine}: under wrk, the new master takes over with no failed request and no connection error`, async () => {
      const { s, pidFile } = await startWithPid(engine, `up-${engine}`);
      const oldPid = s.pid;
      expect(readPid(pidFile)).toBe(oldPid);
      const wrk = spawn('wrk', ['-t1', '-c16', '-d12s', '--timeout', '5s', `${s.url}/`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      wrk.stdout.on('data', (d) => (out += d));
      const wrkDone = new Promise<number>((resolve) => wrk.on('exit', () => resolve(Date.now())));

      const next = await upgrade(s, pidFile);
      await stopOldWorkers(s, next);
      const exited = await s.stop('SIGTERM');
      const oldGoneAt = Date.now();
      expect(exited).toBe(0);
      expect(alive(oldPid)).toBe(false);
      expect(s.stderr()).toMatch(new RegExp(`The new master ${next} goes on serving`));
      const wrkEndedAt = await wrkDone;
      const counts = wrkCounts(out);
      expect(counts.requests).toBeGreaterThan(1000);
      expect({ socketErrors: counts.socketErrors, non2xx: counts.non2xx }).toEqual({ socketErrors: 0, non2xx: 0 });
      expect(oldGoneAt).toBeLessThan(wrkEndedAt); // the whole upgrade ran while wrk did
      // The new master serves alone, and owns the pid file now.
      const r = await get(`${s.url}/`);
      expect(r.status).toBe(200);
      expect(readPid(pidFile)).toBe(next);
      expect(fs.existsSync(`${pidFile}.2`)).toBe(false);
      process.kill(next, 'SIGTERM');
      expect(await waitFor(() => !alive(next), 15_000)).toBe(true);
      expect(fs.existsSync(pidFile)).toBe(false);
    }, 90_000);
  }

  for (const engine of ['fork', 'prefork']) {
    it(`${engine}: rolls back with SIGHUP to the old master and SIGTERM to the new one`, async () => {
      const { s, pidFile } = await startWithPid(engine, `back-${engine}`);
      const next = await upgrade(s, pidFile);
      await stopOldWorkers(s, next);
      // Only the new master's tree answers now (a fork child may be gone by the time it is looked up).
      const during = await get(`${s.url}/`);
      if (engine === 'prefork') expect(ppid(during.pid)).toBe(next);
      process.kill(s.pid, 'SIGHUP');
      if (engine === 'prefork') expect(await waitFor(() => childPids(s.pid).filter((p) => p !== next).length === 2, 15_000)).toBe(true);
      process.kill(next, 'SIGTERM');
      expect(await waitFor(() => new RegExp(`The new master ${next} exited 0; this master goes on serving`).test(s.stderr()), 15_000), s.stderr()).toBe(true);
      // The old master serves again (the new one is gone), still under its own pid file.
      expect(alive(next)).toBe(false);
      for (let i = 0; i < 5; i++) {
        const r = await get(`${s.url}/`);
        expect(r.status).toBe(200);
        if (engine === 'prefork') expect(ppid(r.pid)).toBe(s.pid);
      }
      expect(readPid(pidFile)).toBe(s.pid);
      expect(fs.existsSync(`${pidFile}.2`)).toBe(false);
      expect(childPids(s.pid)).not.toContain(next); // reaped, not a zombie
    }, 60_000);
  }

  it('a second SIGUSR2 while the new master runs is refused with a sentence', async () => {
    const { s, pidFile } = await startWithPid('prefork', 'twice');
    const next = await upgrade(s, pidFile);
    process.kill(s.pid, 'SIGUSR2');
    expect(await waitFor(() => /SIGUSR2 ignored: the new master \d+ is running/.test(s.stderr()))).toBe(true);
    expect(childPids(s.pid).filter((p) => p !== next).length).toBe(2); // its workers only: no third master
    process.kill(next, 'SIGTERM');
    expect(await waitFor(() => !alive(next) && !childPids(s.pid).includes(next), 15_000)).toBe(true);
  }, 60_000);

  it('a unix: socket file stays for the new master when the old one exits, and goes with the last', async () => {
    const sock = path.join(dir, 'up.sock');
    const pidFile = path.join(dir, 'unix.pid');
    const s = await startServer(APP, ['--engine', 'prefork', '--workers', '1', '--bind', `unix:${sock}`, '--pid', pidFile]);
    server = s;
    process.kill(s.pid, 'SIGUSR2');
    const next = await waitFor(() => readPid(`${pidFile}.2`), 30_000);
    extra.push(next);
    expect(await waitFor(() => new RegExp(`Listening at: unix:${sock} \\(${next}\\)`).test(s.stderr()), 30_000)).toBe(true);
    expect(await s.stop('SIGTERM')).toBe(0);
    expect(fs.existsSync(sock)).toBe(true);
    const { stdout } = await run('curl', ['-s', '-f', '--max-time', '10', '--unix-socket', sock, 'http://localhost/']);
    expect(ppid(JSON.parse(stdout).pid)).toBe(next);
    process.kill(next, 'SIGTERM');
    expect(await waitFor(() => !alive(next), 15_000)).toBe(true);
    expect(fs.existsSync(sock)).toBe(false);
    expect(fs.existsSync(pidFile)).toBe(false);
  }, 60_000);
});
