/** Starts test/fixtures/status-tree.mjs in its own process group and reads its JSON line (bounded). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterEach } from 'vitest';
import { FIXTURES, ROOT } from './server.js';

/**
 * Registers an afterEach that runs the test's `cleanups` (last first), then
 * SIGKILLs every process group in `groups` (each process was started with
 * `detached: true`, so kill(-pid) ends its whole tree). Call once per file.
 */
export function cleanupAfterEach(): { groups: ChildProcess[]; cleanups: Array<() => unknown> } {
  const groups: ChildProcess[] = [];
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
    for (const proc of groups.splice(0)) {
      try {
        process.kill(-proc.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  });
  return { groups, cleanups };
}

export interface TreeFixture {
  /** The fixture's process; its pid is also its process group id: kill(-pid) ends the whole tree. */
  proc: ChildProcess;
  /** The parent: listens on 127.0.0.1:`port`. */
  pid: number;
  port: number;
  /** Two children holding the inherited listening socket. */
  holders: number[];
  /** A child that exited with 7 and is never reaped. */
  zombie: number;
  /** A child that exits with 3 after ~1 s and is reaped `reapAfterMs` after the start. */
  reaped: number;
}

/**
 * Starts the fixture; `groups` receives its process for the caller's cleanup
 * (`process.kill(-proc.pid, 'SIGKILL')`). Rejects with the fixture's stderr if
 * it exits or prints nothing within `timeoutMs`.
 */
export async function startTree(reapAfterMs: number, groups: ChildProcess[], timeoutMs = 20_000): Promise<TreeFixture> {
  const proc = spawn(process.execPath, ['--single-threaded', path.join(FIXTURES, 'status-tree.mjs'), String(reapAfterMs)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  groups.push(proc);
  let err = '';
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (d: string) => (err += d));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`status-tree fixture printed nothing in ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl));
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Let the last stderr chunk arrive before reporting.
      setTimeout(() => reject(new Error(`status-tree fixture exited (${code ?? signal}) before printing; stderr: ${err}`)), 50);
    });
  });
  return { proc, ...JSON.parse(line) };
}
