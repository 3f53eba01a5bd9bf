// Starting an observer (`forkserve watch PID`, `forkserve status PID`) for the
// current process without making it our child.
//
// Why not a plain child_process.spawn(): a child of the server would
// - appear in the very tree it shows (one more "child" of the server), and
// - be reaped by the fork engine, whose SIGCHLD loop calls waitpid(-1) and
//   takes any child's status (and logs "Reaped child N").
// So the observer is started through a short-lived intermediate node process
// that spawns it and exits at once ("double fork"). The observer is then
// adopted by init (or the nearest subreaper) and is a sibling-like process of
// the server: same session and process group (Ctrl-C in the terminal reaches
// it), same stdout/stderr, not in the server's tree.
// We wait for the intermediate to exit, so libuv reaps it before the server
// starts its loop: no child of ours is left for the engine to find.

import { spawn } from 'node:child_process';
import cluster from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/forkserve.js, from src/observe or dist/observe. */
export const FORKSERVE_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/forkserve.js');

// Runs in the intermediate: argv is [node, bin, ...args].
const INTERMEDIATE = `
const { spawn } = require('node:child_process');
const [bin, ...args] = process.argv.slice(1);
const child = spawn(process.execPath, [bin, ...args], {
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, FORKSERVE_NO_REEXEC: '1' },
});
child.on('error', (err) => {
  process.stderr.write('forkserve: could not start "forkserve ' + args.join(' ') + '": ' + err.message + '\\n');
  process.exitCode = 1;
});
child.unref();
`;

/**
 * Starts `forkserve ARGS...` as a process that is not our child (see above),
 * with stdin on /dev/null and our stdout/stderr. Resolves when the
 * intermediate has exited (within `opts.timeoutMs`, default 10 s); rejects if
 * it could not be started or failed. Does nothing in a node:cluster worker
 * (the primary starts the observer). `opts.entry` replaces bin/forkserve.js
 * (tests).
 */
export async function launchObserver(args: string[], opts: { timeoutMs?: number; entry?: string } = {}): Promise<void> {
  if (cluster.isWorker) return;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const child = spawn(process.execPath, ['-e', INTERMEDIATE, opts.entry ?? FORKSERVE_BIN, ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`forkserve: starting "forkserve ${args.join(' ')}" took more than ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`forkserve: could not start "forkserve ${args.join(' ')}" (${signal ?? `exit ${code}`})`));
    });
  });
}
