#!/usr/bin/env node
// Runs forkserve's libFuzzer targets for a fixed time:
//   parser  native/fuzz/fuzz_parser.c: the request parser and the chunked decoder;
//   conn    native/fuzz/fuzz_conn.cc: the whole connection core, one stream fed
//           whole and split at points the input picks (same events, same bytes out).
//
//   npm run fuzz -- --minutes 5 [--target parser|conn|all]   (default 1 minute, all:
//                                                              the time is shared)
//
// Builds each target with clang through cmake-js into build-cmake/clang/,
// fuzzes with a seed corpus (native/fuzz/corpus, read only; for conn each
// seed is prefixed with split points) and the dictionary native/fuzz/http.dict;
// new inputs go to build-cmake/clang/corpus-TARGET. Prints the executions of
// each target. A crash leaves its input in build-cmake/clang/artifacts/ and
// makes the exit status non-zero.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { cmakeBuild, have, root } from './native-build.mjs';

const TARGETS = { parser: 'fuzz_parser', conn: 'fuzz_conn' };

function parseArgs(argv) {
  let minutes = 1;
  let target = 'all';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let m;
    if ((m = /^--minutes(?:=(.*))?$/.exec(a))) minutes = Number(m[1] ?? argv[++i]);
    else if ((m = /^--target(?:=(.*))?$/.exec(a))) target = m[1] ?? argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('--minutes must be a positive number');
  if (target !== 'all' && !TARGETS[target]) throw new Error(`--target must be parser, conn or all, got "${target}"`);
  const names = target === 'all' ? Object.keys(TARGETS) : [target];
  return { names, seconds: Math.max(1, Math.round((minutes * 60) / names.length)) };
}

/**
 * The conn target's seeds: each parser seed after a flag byte and three
 * split points (7, 19, 40), and native/fuzz/corpus-conn (inputs in the
 * target's own format: the findings it once failed on, kept as regressions).
 */
function connSeeds(dir) {
  mkdirSync(dir, { recursive: true });
  const from = path.join(root, 'native', 'fuzz', 'corpus');
  for (const name of readdirSync(from)) {
    const cuts = Buffer.from([0x03, 7, 0, 19, 0, 40, 0]);
    writeFileSync(path.join(dir, name), Buffer.concat([cuts, readFileSync(path.join(from, name))]));
  }
  const kept = path.join(root, 'native', 'fuzz', 'corpus-conn');
  for (const name of readdirSync(kept)) writeFileSync(path.join(dir, `kept-${name}`), readFileSync(path.join(kept, name)));
  return dir;
}

async function fuzz(name, seconds) {
  const exe = cmakeBuild(TARGETS[name], { toolchain: 'clang' });
  const clang = path.join(root, 'build-cmake', 'clang');
  const work = path.join(clang, `corpus-${name}`);
  const artifacts = path.join(clang, 'artifacts') + path.sep;
  mkdirSync(work, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const seeds = name === 'conn' ? connSeeds(path.join(clang, 'seeds-conn')) : path.join(root, 'native', 'fuzz', 'corpus');
  const args = [
    `-max_total_time=${seconds}`,
    `-dict=${path.join(root, 'native', 'fuzz', 'http.dict')}`,
    `-artifact_prefix=${artifacts}`,
    '-max_len=4096',
    '-print_final_stats=1',
    work,
    seeds,
  ];
  console.log(`fuzz: running ${path.relative(root, exe)} for ${seconds} s`);
  const child = spawn(exe, args, { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
  });
  const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  const execs = /stat::number_of_executed_units:\s*(\d+)/.exec(stderr)?.[1];
  if (code !== 0) {
    process.stderr.write(stderr.slice(-8000));
    console.error(`fuzz: ${name} FAILED (exit ${code}); crashing inputs are in ${path.relative(root, artifacts)}`);
    process.exit(1);
  }
  const lines = stderr.split('\n').filter((l) => /^(stat::|Done|#\d+\s+DONE)/.test(l));
  console.log(lines.join('\n'));
  console.log(`fuzz: ${name}: ${execs ?? '?'} executions in ${seconds} s, no crash`);
}

async function main() {
  const { names, seconds } = parseArgs(process.argv.slice(2));
  if (!have('clang')) {
    console.error('fuzz: clang is not installed (Debian: apt-get install clang libclang-rt-14-dev)');
    process.exit(2);
  }
  for (const name of names) await fuzz(name, seconds);
}

main().catch((e) => {
  console.error(`fuzz: ${e.message}`);
  process.exit(1);
});
