#!/usr/bin/env node
// The forkserve command. It runs Node with --single-threaded: V8 then keeps
// no background GC/compiler threads, so fork() never copies a lock held by a
// thread the child will not have (docs/fork-in-node.md). The flag must be
// given at start-up, so the first run replaces itself with execv(2): same
// pid, no wrapper process in the tree.
import { fileURLToPath } from 'node:url';

const FLAG = '--single-threaded';
if (!process.execArgv.includes(FLAG) && process.env.FORKSERVE_NO_REEXEC !== '1') {
  const { execv } = await import('../dist/posix.js');
  const self = fileURLToPath(import.meta.url);
  execv(process.execPath, [process.execPath, FLAG, ...process.execArgv, self, ...process.argv.slice(2)]);
}

const { main } = await import('../dist/cli.js');
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`forkserve: ${err?.message ?? err}\n`);
  process.exitCode = err?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || err instanceof TypeError ? 2 : 1;
}
