/**
 * The npm package as a user gets it: `npm pack`, then `npm install` of the
 * tarball into an empty project, then real clients.
 *  - the prebuilt path: installed with no compiler on PATH (only node, npm
 *    and sh), it compiles nothing and serves through `npx forkserve`;
 *  - the compile fallback: `--build-from-source` builds the addon from the
 *    shipped sources;
 *  - the library entry points and their types, and the lessons, from the
 *    installed package.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/server.js';

const run = promisify(execFile);
const NPM_FLAGS = ['--no-audit', '--no-fund', '--loglevel=error'];

let work: string;
let tarball: string;

/** A PATH with node, npm, npx and sh, and nothing else: no cc, c++, make or python. */
function bareBin(dir: string): string {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const npmCli = fs.realpathSync(path.join(path.dirname(process.execPath), process.platform === 'win32' ? 'npm.cmd' : 'npm'));
  const npxCli = path.join(path.dirname(npmCli), 'npx-cli.js');
  const links: Record<string, string> = { node: process.execPath, npm: npmCli, npx: npxCli, sh: '/bin/sh' };
  for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(bin, name));
  return bin;
}

/** An empty project with the tarball installed. */
async function installInto(name: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<string> {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  await run('npm', ['install', tarball, ...NPM_FLAGS, ...extra], { cwd: dir, env, timeout: 300_000 });
  return dir;
}

/** Starts `cmd args` in `cwd` and resolves with the port of its "Listening at" line (bounded). */
function startListening(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, pattern = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/) {
  // Its own process group: npx does not pass SIGTERM on to the server it runs, so stop() signals the group, as a terminal's Ctrl-C does.
  const proc = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const port = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 30 s:\n${out}`)), 30_000);
    const check = () => {
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout.on('data', check);
    proc.stderr.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before listening:\n${out}`));
    });
  });
  const stop = () => new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    if (proc.pid && proc.pid > 0) process.kill(-proc.pid, 'SIGTERM');
  });
  return { proc, port, stop, output: () => out };
}

const curl = async (url: string, ...args: string[]) => (await run('curl', ['-s', '--max-time', '10', ...args, url])).stdout;

const APP = `import type { Environ, StartResponse } from 'forkserve';
export default function app(environ: Environ, startResponse: StartResponse): string {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return 'installed: ' + environ.PATH_INFO + '\\n';
}
`;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-pkg-'));
  await run('npm', ['pack', '--pack-destination', work, ...NPM_FLAGS], { cwd: ROOT, timeout: 300_000, maxBuffer: 64 << 20 });
  tarball = path.join(work, fs.readdirSync(work).find((f) => f.endsWith('.tgz'))!);
}, 300_000);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships what a user runs, with the prebuild, and no tests or benchmark results', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/posix.js', 'dist/observe.js', 'bin/forkserve.js', 'binding.gyp',
      'native/posix/sys.cc', 'lessons/run.cjs', 'examples/hello.ts', 'README.md', `prebuilds/${process.platform}-${process.arch}/forkserve.abi${process.versions.modules}.node`]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(test|bench|\.ci|src|build|node_modules)\//.test(f))).toEqual([]);
  });
});

describe('installed from the tarball with the prebuild, no compiler on PATH', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    env = { ...process.env, PATH: bareBin(work) };
    delete env.CC;
    delete env.CXX;
    dir = await installInto('prebuilt', env);
    fs.writeFileSync(path.join(dir, 'app.ts'), APP);
  }, 300_000);

  it('compiled nothing: the addon comes from prebuilds/', () => {
    const pkg = path.join(dir, 'node_modules/forkserve');
    expect(fs.existsSync(path.join(pkg, 'build'))).toBe(false);
    expect(fs.existsSync(path.join(pkg, `prebuilds/${process.platform}-${process.arch}/forkserve.abi${process.versions.modules}.node`))).toBe(true);
  });

  it('serves an app through npx forkserve, on the fork and poll engines', async () => {
    for (const engine of ['fork', 'poll']) {
      const server = startListening('npx', ['forkserve', 'app.ts', '--bind', '127.0.0.1:0', '--engine', engine], dir, env);
      try {
        const port = await server.port;
        expect(await curl(`http://127.0.0.1:${port}/from/${engine}`)).toBe(`installed: /from/${engine}\n`);
      } finally {
        await server.stop();
      }
    }
  });

  it('prints its version and exits 0', async () => {
    const { stdout } = await run('npx', ['forkserve', '--version'], { cwd: dir, env });
    expect(stdout).toBe(`forkserve ${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);
  });

  it("imports 'forkserve', 'forkserve/posix' and 'forkserve/observe', and serve() answers", async () => {
    fs.writeFileSync(path.join(dir, 'server.mjs'), `
      import { serve } from 'forkserve';
      import { getpid, socketpair, close } from 'forkserve/posix';
      import { processTree } from 'forkserve/observe';
      const [a, b] = socketpair(); close(a); close(b);
      if (!processTree(getpid()).some((p) => p.pid === getpid())) throw new Error('observe: no self');
      await serve({ fetch: (req) => new Response('serve() ' + new URL(req.url).pathname) },
        { engine: 'poll', host: '127.0.0.1', port: 0 });
    `);
    const server = startListening(process.execPath, ['server.mjs'], dir, env);
    try {
      const port = await server.port;
      expect(await curl(`http://127.0.0.1:${port}/lib`)).toBe('serve() /lib');
    } finally {
      await server.stop();
    }
  });

  it('has types: a consumer project type-checks against the installed package', async () => {
    fs.writeFileSync(path.join(dir, 'typed.ts'), `
      import { serve, type Environ, type StartResponse, type ServeOptions } from 'forkserve';
      import { fork, waitpid, WNOHANG, type WaitStatus } from 'forkserve/posix';
      import { processTree } from 'forkserve/observe';
      const options: ServeOptions = { engine: 'prefork', workers: 2, interface: 'wsgi' };
      export const app = (environ: Environ, startResponse: StartResponse): string => { startResponse(200, []); return environ.PATH_INFO; };
      export const status: WaitStatus | number = fork() === 0 ? 0 : waitpid(-1, WNOHANG);
      export const tree = processTree(1);
      // @ts-expect-error: engine names are checked
      export const bad: ServeOptions = { engine: 'threads' };
      void serve(app, options);
    `);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')] },
      files: ['typed.ts'],
    }));
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, env }).catch((e) => e as { stdout: string; code: number });
    expect((r as { stdout: string }).stdout).toBe('');
  });

  it('runs a lesson from the installed package', async () => {
    const lesson = startListening(process.execPath, ['node_modules/forkserve/lessons/run.cjs', '03', '--port', '0'], dir, env,
      /Serving HTTP on \S+ port (\d+)/);
    try {
      const port = await lesson.port;
      expect(await curl(`http://127.0.0.1:${port}/`, '-o', '/dev/null', '-w', '%{http_code}')).toBe('200');
    } finally {
      await lesson.stop();
    }
  });
});

describe('installed from the tarball with --build-from-source', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await installInto('compiled', process.env, ['--build-from-source']);
    fs.writeFileSync(path.join(dir, 'app.ts'), APP);
  }, 300_000);

  it('compiled the addon from the shipped sources and serves with it', async () => {
    const pkg = path.join(dir, 'node_modules/forkserve');
    expect(fs.existsSync(path.join(pkg, 'build/Release/forkserve.node'))).toBe(true);
    const server = startListening('npx', ['forkserve', 'app.ts', '--bind', '127.0.0.1:0'], dir, process.env);
    try {
      const port = await server.port;
      expect(await curl(`http://127.0.0.1:${port}/compiled`)).toBe('installed: /compiled\n');
    } finally {
      await server.stop();
    }
  });
});
