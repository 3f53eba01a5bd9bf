// The C proofs of the HTTP parser, run from vitest: the table tests built with
// ASan/UBSan through cmake-js, and a short libFuzzer smoke run (clang).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const hasClang = spawnSync('sh', ['-c', 'command -v clang'], { stdio: 'ignore' }).status === 0;
if (!hasClang) console.warn('parser-native: clang not found, the libFuzzer smoke test is skipped (apt-get install clang libclang-rt-14-dev)');

function run(script: string, args: string[], timeoutMs: number) {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, error: r.error };
}

describe('native HTTP parser', () => {
  it('passes the C table tests under ASan/UBSan with guard pages', () => {
    const r = run('native-build.mjs', ['test'], 120_000);
    if (r.status !== 0) console.error(r.output.slice(-6000));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    const line = /parser tests: (\d+) passed, (\d+) failed/.exec(r.output);
    expect(line, 'summary line').not.toBeNull();
    expect(Number(line![1])).toBeGreaterThanOrEqual(120);
    expect(line![2]).toBe('0');
  }, 150_000);

  it.skipIf(!hasClang)('the parser and the whole connection core survive a 30 s libFuzzer smoke run (needs clang: apt-get install clang libclang-rt-14-dev)', () => {
    const r = run('fuzz.mjs', ['--minutes', String(30 / 60)], 140_000);
    if (r.status !== 0) console.error(r.output.slice(-6000));
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    for (const target of ['parser', 'conn']) {
      const done = new RegExp(`fuzz: ${target}: (\\d+) executions in \\d+ s, no crash`).exec(r.output);
      expect(done, `${target} summary line`).not.toBeNull();
      expect(Number(done![1])).toBeGreaterThan(1000);
    }
  }, 150_000);
});
