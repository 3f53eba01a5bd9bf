// --access-logfile and --error-logfile, and SIGUSR1 to open them again by
// name after logrotate(8) renamed them (gunicorn's and nginx's meaning):
// the master reopens its files and passes the signal to its workers, and
// afterwards no process of the server holds the renamed files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, ROOT, childPids, waitFor } from './helpers/server.js';

const linux = process.platform === 'linux';
let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-logs-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');

/** The files the process's descriptors point at (readlink of /proc/PID/fd/N). */
function openFiles(pid: number): string[] {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
  } catch {
    return []; // gone
  }
}

async function get(port: number, target: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${target}`);
  await res.arrayBuffer();
  return res.status;
}

const ENGINES = [['fork'], ['prefork', '-w', '2'], ['poll'], ['node', '-w', '2'], ['iterative']];

describe.skipIf(!linux).each(ENGINES)('log files on the %s engine', (engine, ...extra) => {
  it('writes access and error lines to their files, and SIGUSR1 moves every process to new files', async () => {
    const access = path.join(dir, `${engine}-access.log`);
    const errors = path.join(dir, `${engine}-error.log`);
    const proc = spawn(process.execPath, [CLI, `${FIXTURES}/apps.ts:echo`, '--bind', '127.0.0.1:0', '-k', engine, ...extra, '--access-logfile', access, '--error-logfile', errors], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
    try {
      const listening = await waitFor(() => /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(read(errors)), 15_000);
      expect(listening, read(errors)).toBeTruthy();
      const port = Number(listening![1]);
      const workers = engine === 'prefork' || engine === 'node' ? 2 : 0;
      if (workers) expect(await waitFor(() => childPids(proc.pid!).length === workers, 15_000)).toBe(true);
      expect(await get(port, '/before')).toBe(200);
      expect(await waitFor(() => read(access).includes('"GET /before HTTP/1.1" 200'))).toBe(true);
      // logrotate's move, then its postrotate kill -USR1.
      fs.renameSync(access, `${access}.1`);
      fs.renameSync(errors, `${errors}.1`);
      process.kill(proc.pid!, 'SIGUSR1');
      expect(await waitFor(() => read(errors).includes('SIGUSR1: log files reopened'))).toBe(true);
      const tree = () => [proc.pid!, ...childPids(proc.pid!)];
      const holdsOld = () => tree().filter((pid) => openFiles(pid).some((f) => f.endsWith('.log.1')));
      expect(await waitFor(() => holdsOld().length === 0), `still on the renamed files: ${holdsOld().join(', ')}`).toBe(true);
      for (let i = 0; i < 6; i++) expect(await get(port, `/after/${i}`)).toBe(200);
      expect(await waitFor(() => (read(access).match(/GET \/after\/\d HTTP\/1\.1" 200/g) ?? []).length === 6)).toBe(true);
      expect(read(`${access}.1`)).toContain('GET /before');
      expect(read(`${access}.1`)).not.toContain('/after/');
      expect(read(`${errors}.1`)).toContain('Listening at');
      // Nothing was written to stderr but what the CLI prints before the logger exists.
      expect(stderr).not.toContain('[INFO]');
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await waitFor(() => read(errors).includes('Stopped by SIGTERM'))).toBe(true);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    }
  }, 40_000);
});
