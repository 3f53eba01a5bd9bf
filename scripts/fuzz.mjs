#!/usr/bin/env node
// Runs the libFuzzer target of the HTTP parser for a fixed time.
//
//   npm run fuzz -- --minutes 5       (default 1 minute; 0.25 = 15 s smoke)
//
// Builds native/fuzz/fuzz_parser.c with clang through cmake-js into
// build-cmake/clang/, fuzzes with the seed corpus native/fuzz/corpus (read
// only: new inputs go to build-cmake/clang/corpus) and the dictionary
// native/fuzz/http.dict, then prints the number of executions. A crash leaves
// its input in build-cmake/clang/artifacts/ and makes the exit status non-zero.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { cmakeBuild, have, root } from './native-build.mjs';

function parseArgs(argv) {
  let minutes = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--minutes(?:=(.*))?$/.exec(a);
    if (m) minutes = Number(m[1] ?? argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error('--minutes must be a positive number');
  return { seconds: Math.max(1, Math.round(minutes * 60)) };
}

async function main() {
  const { seconds } = parseArgs(process.argv.slice(2));
  if (!have('clang')) {
    console.error('fuzz: clang is not installed (Debian: apt-get install clang libclang-rt-14-dev)');
    process.exit(2);
  }
  const exe = cmakeBuild('fuzz_parser', { toolchain: 'clang' });
  const work = path.join(root, 'build-cmake', 'clang', 'corpus');
  const artifacts = path.join(root, 'build-cmake', 'clang', 'artifacts') + path.sep;
  mkdirSync(work, { recursive: true });
  mkdirSync(artifacts, { recursive: true });
  const args = [
    `-max_total_time=${seconds}`,
    `-dict=${path.join(root, 'native', 'fuzz', 'http.dict')}`,
    `-artifact_prefix=${artifacts}`,
    '-max_len=4096',
    '-print_final_stats=1',
    work,
    path.join(root, 'native', 'fuzz', 'corpus'),
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
    console.error(`fuzz: FAILED (exit ${code}); crashing inputs are in ${path.relative(root, artifacts)}`);
    process.exit(1);
  }
  const lines = stderr.split('\n').filter((l) => /^(stat::|Done|#\d+\s+DONE)/.test(l));
  console.log(lines.join('\n'));
  console.log(`fuzz: ${execs ?? '?'} executions in ${seconds} s, no crash`);
}

main().catch((e) => {
  console.error(`fuzz: ${e.message}`);
  process.exit(1);
});
