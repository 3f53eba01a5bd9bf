/**
 * The README's `forkserve/posix` server (examples/posix-server.mjs), run as
 * the README says: it must outlive its first request (its SIGCHLD handler
 * stops at ECHILD instead of throwing it out of accept()), and reap every
 * child.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT, childPids, waitFor } from './helpers/server.js';

const run = promisify(execFile);

describe('examples/posix-server.mjs', () => {
  it('is the server the README shows', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('node --single-threaded examples/posix-server.mjs 8888');
    const source = fs.readFileSync(path.join(ROOT, 'examples/posix-server.mjs'), 'utf8');
    for (const line of ["if (err.code === 'ECHILD') return;", 'status = waitpid(-1, WNOHANG);', 'conn = accept(fd);']) {
      expect(source).toContain(line);
      expect(readme).toContain(line);
    }
  });

  it('answers request after request, and leaves no zombie', async () => {
    const proc = spawn(process.execPath, ['--single-threaded', 'examples/posix-server.mjs', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (out += d));
    try {
      const port = await waitFor(() => /port (\d+)/.exec(out)?.[1], 15_000);
      expect(port, out).toBeTruthy();
      for (let i = 0; i < 5; i++) {
        const { stdout } = await run('curl', ['-s', '--max-time', '5', `http://127.0.0.1:${port}/${i}`]);
        expect(stdout).toBe('hi\n');
      }
      expect(proc.exitCode).toBeNull();
      // Every child has exited and was reaped by the SIGCHLD handler: no child is left at all.
      const left = await waitFor(() => childPids(proc.pid!).length === 0, 5000);
      expect(left, `children left: ${childPids(proc.pid!).join(', ')}\n${out}`).toBe(true);
      expect(out).not.toContain('ECHILD');
    } finally {
      proc.kill('SIGTERM');
    }
  });
});
