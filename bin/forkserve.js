#!/usr/bin/env node
// The forkserve command. It runs Node with --single-threaded: V8 then runs
// its GC and compilers on the main thread and never waits for a background
// task, which a forked child (whose other threads are gone) could not run
// (docs/fork-in-node.md §2). The flag must be given at start-up, so the
// first run replaces itself with execv(2): same pid, no wrapper process.
import { fileURLToPath } from 'node:url';

const FLAG = '--single-threaded';
// Node's own code on 2 MiB pages (anonymous, transparent huge pages) instead
// of the file-backed 4 KiB pages of the binary: fork() copies a few page
// table entries for it, and a child no longer re-faults every code page it
// runs (fork does not copy file-backed page tables). 11% less CPU per
// connection for the fork engine, measured in docs/benchmarks.md. "silent":
// no warning where the kernel cannot (macOS, THP off).
const LARGE_PAGES = '--use-largepages=silent';
// The node engine never forks Node (node:cluster spawns fresh processes):
// it runs as plain Node, the baseline the other engines are compared with.
const args = process.argv.slice(2);

/**
 * The listening sockets this process was given, which must survive the
 * re-exec: systemd's (LISTEN_FDS for this pid, sd_listen_fds(3)), an old
 * master's (FORKSERVE_FDS, src/upgrade.ts) and --bind fd://N.
 */
function inheritedSockets(argv) {
  const keep = (process.env.FORKSERVE_FDS ?? '').split(',').filter((s) => /^\d+$/.test(s)).map(Number);
  if (Number(process.env.LISTEN_PID) === process.pid) for (let i = 0; i < Number(process.env.LISTEN_FDS) || 0; i++) keep.push(3 + i);
  argv.forEach((a, i) => {
    const v = a.startsWith('--bind=') ? a.slice(7) : (a === '--bind' || a === '-b') ? argv[i + 1] ?? '' : '';
    if (/^fd:\/\/\d+$/.test(v)) keep.push(Number(v.slice(5)));
  });
  return keep;
}
const engineAt = args.findIndex((a) => a === '--engine' || a === '-k');
const engine = engineAt >= 0 ? args[engineAt + 1] : args.find((a) => a.startsWith('--engine='))?.slice(9);
if (!process.execArgv.includes(FLAG) && process.env.FORKSERVE_NO_REEXEC !== '1' && engine !== 'node') {
  const { execv } = await import('../dist/posix.js');
  const self = fileURLToPath(import.meta.url);
  const pages = process.execArgv.some((a) => a.startsWith('--use-largepages')) ? [] : [LARGE_PAGES];
  execv(process.execPath, [process.execPath, FLAG, ...pages, ...process.execArgv, self, ...process.argv.slice(2)], inheritedSockets(args));
}

const { main } = await import('../dist/cli.js');
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`forkserve: ${err?.message ?? err}\n`);
  process.exitCode = err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err instanceof TypeError ? 2 : 1;
}
