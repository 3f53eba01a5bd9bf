#!/usr/bin/env node
// Runs a lesson:   node lessons/run.cjs 03-fork.ts [--port 8888 ...]
//
// Why not `node --import tsx lessons/03-fork.ts`? tsx's ESM hooks run on a
// module-loader thread, and tsx keeps an esbuild service process as a child
// of the lesson's server. A forked child has neither; the extra thread is one
// more thread that fork(2) does not copy; and the esbuild process would show
// in every process tree the lessons ask you to read (and a waitpid(-1, ...)
// could reap it). So this launcher:
//  1. re-executes Node with --single-threaded if it was not given (execv(2):
//     same pid, as bin/forkserve.js does), so V8 runs no background tasks;
//  2. loads the lesson with tsx's CommonJS hook, which compiles each file on
//     this thread in a short-lived esbuild process, gone before the lesson's
//     first line runs.
// It is CommonJS itself because Node reads an ES module entry point
// asynchronously, which starts libuv's thread pool (4 more threads) for good.
// The lesson sees its own arguments in process.argv.slice(2).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const FLAG = '--single-threaded';

if (!process.execArgv.includes(FLAG) && process.env.FORKSERVE_NO_REEXEC !== '1') {
  let addon;
  try {
    addon = require('node-gyp-build')(path.join(__dirname, '..'));
  } catch (err) {
    process.stderr.write(`lessons: the native addon could not be loaded (${err.message.split('\n')[0]}): run \`npm install\` or \`npm rebuild forkserve\`\n`);
    process.exit(1);
  }
  addon.execv(process.execPath, [process.execPath, FLAG, ...process.execArgv, __filename, ...process.argv.slice(2)]);
}

const USAGE = `Usage: node lessons/run.cjs LESSON [options]
  LESSON is a file of lessons/: 01-iterative.ts, 02-wsgi.ts, ... (or a prefix: 01, 02, ...).
  Each lesson takes --port (default 8888) and --help; see docs/lessons.md.
`;

function resolveLesson(name) {
  if (!name || name.startsWith('-')) return null;
  for (const c of [name, path.join(__dirname, name), path.join(__dirname, `${name}.ts`)]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return path.resolve(c);
  }
  const matches = fs.readdirSync(__dirname).filter((f) => /^\d\d-.*\.ts$/.test(f) && f.startsWith(name));
  return matches.length === 1 ? path.join(__dirname, matches[0]) : null;
}

const lesson = resolveLesson(process.argv[2]);
if (!lesson) {
  const arg = process.argv[2];
  process.stderr.write(arg && !arg.startsWith('-') ? `lessons: no lesson "${arg}"\n${USAGE}` : USAGE);
  process.exit(arg === '-h' || arg === '--help' ? 0 : 2);
}

// Compile without a worker thread and without tsx's asynchronous disk cache
// (as src/load.ts does): nothing may be left running when the lesson forks.
process.env.ESBUILD_WORKER_THREADS = '0';
process.env.TSX_DISABLE_CACHE = '1';
process.argv = [process.argv[0], lesson, ...process.argv.slice(3)];
const { require: tsxRequire } = require('tsx/cjs/api');

// Loading tsx starts an asynchronous connect (its IPC client for `tsx watch`).
// A lesson's loop is synchronous and never lets it finish, so every child
// would inherit the half-open socket: let the event loop settle first
// (bounded), as the fork engine does (src/engines/quiesce.ts).
// Requests finish; handles (stdio pipes: PipeWrap, TTYWrap; timers) stay.
const isRequest = (name) => /Req|ConnectWrap|ShutdownWrap|WriteWrap|FileHandle|Promise|Work/.test(name);
function settle(deadline, then) {
  setImmediate(() =>
    setImmediate(() => {
      if (Date.now() >= deadline || !process.getActiveResourcesInfo().some(isRequest)) then();
      else setTimeout(() => settle(deadline, then), 5);
    }),
  );
}
settle(Date.now() + 2000, () => tsxRequire(lesson, __filename));
