#!/usr/bin/env node
// Builds the stand-alone native executables of CMakeLists.txt (parser tests,
// benchmark, fuzzer) through cmake-js, into build-cmake/<toolchain>/.
//
//   node scripts/native-build.mjs test    build and run parser_test (ASan/UBSan)
//   node scripts/native-build.mjs bench   build and run parser_bench [seconds]
//
// cmake-js fetches Node headers unless it is told where they are: it reads
// npm's "nodedir" setting (npm_config_nodedir, set by npm from .npmrc). When
// that is missing we point it at the running Node's own prefix if that prefix
// holds include/node/node.h (Debian's nodejs: /usr), so nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cmakeJs = path.join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');

/** Returns the environment for cmake-js, with a local nodedir when one exists. */
export function cmakeJsEnv() {
  const env = { ...process.env };
  if (!env.npm_config_nodedir) {
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (existsSync(path.join(prefix, 'include', 'node', 'node.h'))) env.npm_config_nodedir = prefix;
  }
  return env;
}

/** Returns true if a program is on PATH (e.g. clang). */
export function have(program) {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Builds one CMake target with cmake-js and returns the executable's path.
 * toolchain "clang" configures build-cmake/clang with CMAKE_C_COMPILER=clang
 * (needed for the libFuzzer target); "default" uses CMake's default compiler.
 */
export function cmakeBuild(target, { toolchain = 'default', quiet = false } = {}) {
  const out = path.join(root, 'build-cmake', toolchain);
  const args = [cmakeJs, 'build', '--directory', root, '--out', out, '--target', target, '--log-level', 'warn'];
  if (toolchain === 'clang') args.push('--CDCMAKE_C_COMPILER=clang', '--CDCMAKE_CXX_COMPILER=clang++');
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    env: cmakeJsEnv(),
    stdio: quiet ? 'pipe' : 'inherit',
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    const detail = quiet ? `\n${r.stdout ?? ''}${r.stderr ?? ''}` : '';
    throw new Error(`cmake-js build of ${target} failed (exit ${r.status})${detail}`);
  }
  return path.join(out, target);
}

function main() {
  const [what, ...rest] = process.argv.slice(2);
  const targets = { test: 'parser_test', bench: 'parser_bench' };
  if (!targets[what]) {
    console.error('usage: node scripts/native-build.mjs test|bench [args...]');
    process.exit(2);
  }
  const exe = cmakeBuild(targets[what]);
  const r = spawnSync(exe, rest, { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
