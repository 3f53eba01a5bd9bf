// The lessons (lessons/*.ts), each started as the docs say (node lessons/run.cjs),
// each asserted by the phenomenon it teaches, read through forkserve/observe.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { pidsControllerAvailable, pidsGroup } from './helpers/cgroup.js';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { descriptors, processTree, sharedDescriptors, zombies } from '../src/observe.js';
import type { ClientReport } from '../src/client.js';
import { FIXTURES, ROOT, rawRequest, waitFor } from './helpers/server.js';

const run = promisify(execFile);
const RUNNER = path.join(ROOT, 'lessons/run.cjs');
const HELLO = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, World!\n';
const GET = (p = '/') => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;

interface Lesson {
  pid: number;
  port: number;
  proc: ChildProcess;
  stderr(): string;
  /** Resolves with the exit code (or signal name) once the lesson has exited. */
  exited: Promise<number | string | null>;
  running(): boolean;
}

const started: Lesson[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const l of started.splice(0)) {
    if (l.running()) l.proc.kill('SIGKILL');
    await Promise.race([l.exited, new Promise((r) => setTimeout(r, 5000))]);
  }
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Starts `node lessons/run.cjs NAME --port 0 ...args` and waits (bounded) for its "Serving HTTP" line. */
async function startLesson(name: string, args: string[] = []): Promise<Lesson> {
  const proc = spawn(process.execPath, [RUNNER, name, '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  let done = false;
  const exited = new Promise<number | string | null>((resolve) =>
    proc.on('exit', (code, sig) => {
      done = true;
      resolve(code ?? sig);
    }),
  );
  const lesson: Lesson = { pid: proc.pid!, port: 0, proc, stderr: () => err, exited, running: () => !done };
  started.push(lesson);
  const ok = await waitFor(() => /Serving HTTP on 127\.0\.0\.1 port (\d+)/.test(err) || done, 20_000);
  const m = /Serving HTTP on 127\.0\.0\.1 port (\d+)/.exec(err);
  if (!ok || !m) throw new Error(`lesson ${name} did not start:\n${err}`);
  lesson.port = Number(m[1]);
  return lesson;
}

/** Runs the forking load client in its own `node --single-threaded` process (fork needs one). */
async function client(opts: { url: string; maxClients: number; maxConns: number; hold?: number; timeoutMs?: number }): Promise<ClientReport> {
  const script = `
    const { runClient } = await import(${JSON.stringify(path.join(ROOT, 'dist/client.js'))});
    const report = await runClient(JSON.parse(process.env.CLIENT_OPTS));
    process.stdout.write(JSON.stringify(report));`;
  const { stdout } = await run(process.execPath, ['--single-threaded', '--input-type=module', '-e', script], {
    env: { ...process.env, CLIENT_OPTS: JSON.stringify(opts) },
    timeout: 60_000,
  });
  return JSON.parse(stdout) as ClientReport;
}

const children = (pid: number) => processTree(pid).filter((p) => p.depth === 1);
const liveChildren = (pid: number) => children(pid).filter((p) => !p.zombie);

/** Opens a connection, sends a request, resolves once `expected` bytes arrived (bounded). */
function connectAndRead(port: number, expected: string, timeoutMs = 5000): Promise<{ sock: net.Socket; data: () => string; ended: () => boolean }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let ended = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response in ${timeoutMs} ms, got ${JSON.stringify(data)}`));
    }, timeoutMs);
    sock.on('connect', () => sock.write(GET('/held')));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (data.length >= expected.length) {
        clearTimeout(timer);
        resolve({ sock, data: () => data, ended: () => ended });
      }
    });
    sock.on('end', () => (ended = true));
    sock.on('close', () => (ended = true));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe('lesson 1: iterative server', () => {
  it('answers Hello, World! one connection at a time, with no child process', async () => {
    const l = await startLesson('01-iterative.ts');
    for (const p of ['/hello', '/again']) {
      expect(await rawRequest(l.port, GET(p))).toBe(HELLO);
    }
    expect(l.stderr()).toMatch(/GET \/hello HTTP\/1\.1/);
    expect(l.stderr()).toMatch(/accepted fd \d+ \(socket:\[\d+\]\) from 127\.0\.0\.1:\d+/);
    expect(processTree(l.pid)).toHaveLength(1); // iterative: no children
  });
});

describe('lesson 2: WSGI-style server', () => {
  it('serves examples/hello.ts:app with a hand-made status line and headers', async () => {
    const l = await startLesson('02-wsgi.ts', [`${ROOT}/examples/hello.ts:app`]);
    const raw = await rawRequest(l.port, GET('/hello%20there?x=1'));
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
    expect(head).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
    expect(head).toMatch(/\r\nServer: forkserve-lesson\/0\.2$/);
    expect(body).toBe('Hello, World! You asked for /hello there\n');
  });

  it('gives the app the environ of buildEnviron, body included', async () => {
    const l = await startLesson('02-wsgi.ts', [`${FIXTURES}/apps.ts:echo`]);
    const raw = await rawRequest(l.port, 'POST /a%20b?q=1 HTTP/1.1\r\nHost: lesson\r\nX-Custom: yes\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello');
    const env = JSON.parse(raw.split('\r\n\r\n')[1]);
    expect(env).toMatchObject({
      method: 'POST', path: '/a b', query: 'q=1', protocol: 'HTTP/1.1', contentType: 'text/plain', contentLength: '5',
      length: 5, host: 'lesson', custom: 'yes', remoteAddr: '127.0.0.1', serverPort: String(l.port), pid: l.pid,
    });
  });
});

describe('lesson 3: fork per connection', () => {
  it('serves N sleeping requests concurrently, one child each', async () => {
    const l = await startLesson('03-fork.ts', ['--sleep', '1']);
    const N = 5;
    const t0 = Date.now();
    const pending = Array.from({ length: N }, (_, i) => rawRequest(l.port, GET(`/${i}`), 10_000));
    // While they sleep, N children are alive at once.
    const overlap = await waitFor(() => liveChildren(l.pid).length === N, 5000, 10);
    const answers = await Promise.all(pending);
    const elapsed = (Date.now() - t0) / 1000;
    expect(overlap).toBe(true);
    expect(answers).toEqual(Array(N).fill(HELLO));
    expect(elapsed).toBeLessThan(N * 0.6);
    expect(l.stderr().match(/forked child \d+/g)).toHaveLength(N);
  });
});

/** Lesson 4: opens up to `max` connections, each answered and left open, until the lesson reports EMFILE or exits; returns them. */
async function connectUntilEmfile(l: Lesson, max: number): Promise<net.Socket[]> {
  const socks: net.Socket[] = [];
  for (let i = 0; i < max && l.running() && !/EMFILE/.test(l.stderr()); i++) {
    try {
      socks.push((await connectAndRead(l.port, HELLO, 3000)).sock);
    } catch {
      break; // the server is gone: the pending connection was reset
    }
  }
  return socks;
}

describe('lesson 4: the parent does not close the connection', () => {
  it('the client gets the response but no end of stream: the parent holds the last reference', async () => {
    const l = await startLesson('04-no-close.ts');
    const c = await connectAndRead(l.port, HELLO);
    expect(c.data()).toBe(HELLO);
    const clientPort = c.sock.localPort!;
    // The child has closed its descriptor and exited...
    expect(await waitFor(() => new RegExp(`closed fd \\d+ and exits`).test(l.stderr()))).toBe(true);
    expect(await waitFor(() => liveChildren(l.pid).length === 0)).toBe(true);
    // ...and still no FIN reaches the client within a second.
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.ended()).toBe(false);
    // The server side of this connection is a descriptor of the parent, and of no other process.
    const serverSide = descriptors(l.pid).find(
      (d) => d.socket?.family === 'inet' && d.socket.localPort === l.port && d.socket.remotePort === clientPort,
    );
    expect(serverSide).toBeDefined();
    expect(serverSide!.socket).toMatchObject({ state: 'ESTABLISHED', remoteAddress: '127.0.0.1' });
    // It is the descriptor the lesson reported for this client, the one it did not close.
    const logged = new RegExp(`accepted fd (\\d+) \\(socket:\\[(\\d+)\\]\\) from 127\\.0\\.0\\.1:${clientPort}, forked child \\d+, did NOT close`).exec(l.stderr());
    expect(logged).not.toBeNull();
    expect(serverSide!.fd).toBe(Number(logged![1]));
    expect(serverSide!.inode).toBe(Number(logged![2]));
    const tree = processTree(l.pid).map((p) => p.pid);
    expect(sharedDescriptors(tree).get(serverSide!.identity)).toBeUndefined();
    c.sock.destroy();
  });

  it('runs out of descriptors: accept() fails with EMFILE under a low RLIMIT_NOFILE', async () => {
    const l = await startLesson('04-no-close.ts', ['--nofile', '30']);
    // The lesson prints its descriptor count on the line after "Serving HTTP": wait for it.
    expect(await waitFor(() => /the listening socket is fd (\d+)/.test(l.stderr()))).toBe(true);
    const highest = Number(/the listening socket is fd (\d+)/.exec(l.stderr())![1]);
    const socks = await connectUntilEmfile(l, 40);
    const code = await Promise.race([l.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    socks.forEach((s) => s.destroy());
    expect(l.stderr()).toMatch(/accept failed: SystemError: accept: EMFILE \(too many open files\) \(code EMFILE, errno -24, syscall accept\)/);
    // Every descriptor number from the listening socket's up to the limit went to a connection.
    expect(l.stderr()).toMatch(new RegExp(`holds ${30 - 1 - highest} connections it never closed`));
    expect(code).toBe(1);
  });
});

describe('lesson 4: the --nofile it tells', () => {
  it('prints the --nofile that shows EMFILE at the 6th connection, and that limit does', async () => {
    const first = await startLesson('04-no-close.ts');
    expect(await waitFor(() => /run with --nofile (\d+) to see EMFILE/.test(first.stderr()))).toBe(true);
    const nofile = Number(/run with --nofile (\d+) to see EMFILE/.exec(first.stderr())![1]);
    first.proc.kill('SIGTERM');
    await first.exited;
    const l = await startLesson('04-no-close.ts', ['--nofile', String(nofile)]);
    const socks = await connectUntilEmfile(l, 8);
    expect(await l.exited).toBe(1);
    socks.forEach((s) => s.destroy());
    expect(l.stderr()).toMatch(/holds 5 connections it never closed/);
  });

  it('refuses a --nofile too low for one connection, with the number to pass, exit 2', async () => {
    const proc = spawn(process.execPath, [RUNNER, '04-no-close.ts', '--port', '0', '--nofile', '8'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((resolve) => proc.on('exit', (c, sig) => resolve(c ?? sig)));
    expect(code).toBe(2);
    expect(err).toMatch(/^--nofile 8 leaves no descriptor for a connection: fds 0 to 7 are all open already\. Pass --nofile \d+ to serve 5 connections before accept\(\) fails with EMFILE\n$/);
  });
});

describe('lesson 5: zombies', () => {
  it('leaves one zombie per request: children that exited and were never waited for', async () => {
    const l = await startLesson('05-zombies.ts');
    const K = 4;
    for (let i = 0; i < K; i++) expect(await rawRequest(l.port, GET(`/${i}`))).toBe(HELLO);
    expect(await waitFor(() => zombies(l.pid).length === K)).toBe(true);
    const tree = processTree(l.pid);
    const z = tree.filter((p) => p.state === 'Z');
    expect(z).toHaveLength(K);
    expect(tree).toHaveLength(K + 1); // nothing else: only zombies under the server
    for (const p of z) expect(p).toMatchObject({ ppid: l.pid, depth: 1, zombie: true, descriptorCount: null, args: [] });
  });

  it('fork() fails with EAGAIN once zombies fill a pids cgroup, and the connection is closed unanswered', async (ctx) => {
    // RLIMIT_NPROC does not apply to root; a cgroup v1 pids controller makes
    // fork(2) fail with EAGAIN the same way (zombies count until reaped).
    if (!pidsControllerAvailable()) ctx.skip();
    const l = await startLesson('05-zombies.ts');
    const group = pidsGroup(l.pid, 'forkserve-lesson-');
    cleanups.push(async () => {
      if (l.running()) {
        l.proc.kill('SIGKILL'); // its zombies go to init, which reaps them
        await l.exited;
      }
      expect(await group.release(l.pid)).toBe(true);
    });
    const tasks = group.current();
    const room = 2;
    group.limit(tasks + room);
    const answers: string[] = [];
    for (let i = 0; i < room + 3 && !/fork failed/.test(l.stderr()); i++) {
      answers.push(await rawRequest(l.port, GET(`/${i}`)));
      if (answers.at(-1) === HELLO) await waitFor(() => zombies(l.pid).length === answers.length);
    }
    expect(l.stderr()).toMatch(/fork failed: SystemError: fork: EAGAIN .*\(code EAGAIN, errno -11, syscall fork\); 2 children forked, none reaped/);
    expect(answers).toEqual([HELLO, HELLO, '']); // the third connection was closed without an answer
    expect(zombies(l.pid)).toHaveLength(room);
    expect(processTree(l.pid).filter((p) => p.state === 'Z')).toHaveLength(answers.filter((a) => a === HELLO).length);
    expect(l.running()).toBe(true); // the server goes on, unable to fork
  });
});

describe('lesson 6: SIGCHLD handler without SA_RESTART', () => {
  it('reaps the child in the handler, then accept() throws EINTR and the server exits non-zero', async () => {
    const l = await startLesson('06-sigchld-wait.ts');
    const answers: string[] = [];
    // One request is enough unless the child exits before the parent is back
    // in accept(); a few more are allowed, bounded.
    for (let i = 0; i < 5 && l.running(); i++) {
      answers.push(await rawRequest(l.port, GET(`/${i}`), 3000).catch(() => ''));
      await waitFor(() => !l.running(), 1500);
    }
    const code = await Promise.race([l.exited, new Promise((r) => setTimeout(() => r('still running'), 5000))]);
    expect(code).toBe(1);
    expect(answers[0]).toBe(HELLO);
    const err = l.stderr();
    expect(err).toMatch(/\[handler \d+\] SIGCHLD: reaped child \d+ \(exited 0\)/);
    expect(err).toMatch(/unhandled error, the server stops: SystemError: accept: EINTR \(interrupted system call\) \(code EINTR, errno -4, syscall accept\)/);
    expect(err.lastIndexOf('SIGCHLD: reaped')).toBeLessThan(err.indexOf('accept: EINTR')); // the handler ran first
  });
});

describe('lessons 7 and 8: a burst of SIGCHLD', () => {
  const BURST = 20;

  it('lesson 7: one waitpid per signal leaves zombies after a burst (signals merge)', async () => {
    const l = await startLesson('07-eintr-handled.ts');
    let zombieCount = 0;
    let forked = 0;
    // Usually one burst leaves zombies; allow up to three, bounded.
    for (let burst = 0; burst < 3 && zombieCount === 0; burst++) {
      const report = await client({ url: `http://127.0.0.1:${l.port}/`, maxClients: BURST, maxConns: 1 });
      expect(report.byStatus).toEqual({ '200': BURST });
      forked += BURST;
      expect(await waitFor(() => liveChildren(l.pid).length === 0, 5000)).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // let any last handler run
      zombieCount = zombies(l.pid).length;
    }
    expect(zombieCount).toBeGreaterThan(0);
    // The handler reaped one child per run: the rest are the zombies.
    const reaped = (l.stderr().match(/SIGCHLD #\d+: reaped child/g) ?? []).length;
    expect(processTree(l.pid).filter((p) => p.state === 'Z')).toHaveLength(forked - reaped);
    expect(l.running()).toBe(true); // EINTR no longer stops the server
  });

  it('lesson 8: the waitpid(-1, WNOHANG) loop leaves no zombie after the same burst', async () => {
    const l = await startLesson('08-waitpid-loop.ts');
    for (let burst = 1; burst <= 2; burst++) {
      const report = await client({ url: `http://127.0.0.1:${l.port}/`, maxClients: BURST, maxConns: 1 });
      expect(report.byStatus).toEqual({ '200': BURST });
      const settled = await waitFor(() => processTree(l.pid).length === 1, 5000);
      expect(settled, `burst ${burst}: children left ${JSON.stringify(processTree(l.pid).slice(1))}`).toBe(true);
      expect(zombies(l.pid)).toEqual([]);
      expect((l.stderr().match(/SIGCHLD #\d+: reaped child/g) ?? []).length).toBe(burst * BURST);
    }
    expect(l.running()).toBe(true);
  });
});
