// The fork engine end to end: the CLI serves fixture apps to curl and fetch,
// under load, through failures; processes and descriptors read from /proc.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { pidsControllerAvailable, pidsGroup } from './helpers/cgroup.js';
import { FIXTURES, ROOT, childPids, fdCount, procState, rawRequest, startServer, waitFor, zombieChildren, type RunningServer } from './helpers/server.js';
import { connection } from './helpers/connection.js';

const run = promisify(execFile);
const apps = `${FIXTURES}/apps.ts`;
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe('fork engine: the example app', () => {
  it('answers curl with status, headers and body', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`);
    const { stdout } = await run('curl', ['-s', '-i', `${server.url}/hello?x=1`]);
    const [head, body] = stdout.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nContent-Type: text\/plain; charset=utf-8\r\n/);
    expect(head).toMatch(/\r\nServer: forkserve\r\n/);
    expect(head).toMatch(/\r\nDate: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
    expect(head).toMatch(/\r\nContent-Length: 35(\r\n|$)/i);
    expect(body).toBe('Hello, World! You asked for /hello\n');
  });

  it('answers fetch(), writes an access-log line and reaps the child (its line at --log-level debug)', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--log-level', 'debug']);
    const res = await fetch(`${server.url}/from-fetch`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hello, World! You asked for /from-fetch\n');
    const s = server;
    await waitFor(() => /Reaped child \d+: exited 0/.test(s.stderr()));
    expect(s.stderr()).toMatch(/127\.0\.0\.1 - - \[\d{2}\/\w{3}\/\d{4}:[\d:]+ \+0000\] "GET \/from-fetch HTTP\/1\.1" 200 40 /);
    expect(s.stderr()).toMatch(/Reaped child \d+: exited 0/);
  });
});

describe('fork engine: log levels', () => {
  it('at --log-level debug the parent runs JS after every reap, and every later child still works', async () => {
    // Each logged reap runs JS in the parent, so the heap is advised for fork again before the next fork (docs/fork-in-node.md §1).
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--log-level', 'debug', '--no-access-log']);
    const s = server;
    for (let i = 0; i < 60; i++) {
      const res = await fetch(`${s.url}/n/${i}`, { headers: { connection: 'close' } });
      expect(await res.text()).toBe(`Hello, World! You asked for /n/${i}\n`);
    }
    expect(await waitFor(() => (s.stderr().match(/Reaped child \d+: exited 0/g) ?? []).length === 60)).toBe(true);
    expect(s.stderr()).not.toMatch(/killed by|exited [1-9]/);
  });

  it('at the default level a clean child exit writes no line; the access line stays', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`);
    const s = server;
    for (let i = 0; i < 5; i++) expect((await fetch(`${s.url}/quiet/${i}`, { headers: { connection: 'close' } })).status).toBe(200);
    expect(await waitFor(() => (s.stderr().match(/"GET \/quiet\/\d/g) ?? []).length === 5)).toBe(true);
    expect(s.stderr()).not.toMatch(/Reaped child/);
  });
});

describe('fork engine: bounded by default', () => {
  it('--fork-after accept: bounds children by half of RLIMIT_NPROC when no --max-children is given, and serves the rest as children exit', async () => {
    // prlimit(1) execs the server with RLIMIT_NPROC 16: the default bound is 8.
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--no-access-log', '--fork-after', 'accept'], ['prlimit', '--nproc=16:16']);
    const s = server;
    expect(await waitFor(() => /At most 8 children at once \(--max-children\)/.test(s.stderr()))).toBe(true);
    // Twelve clients send half a head: each holds a child until it finishes.
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, childPids(s.pid).length)), 5);
    try {
      const held = Array.from({ length: 12 }, () => connection(s.port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n'));
      expect(await waitFor(() => childPids(s.pid).length === 8)).toBe(true);
      // Each finished head frees a child, and the next connection waiting in the backlog gets it.
      for (const c of held) {
        c.sock.write('\r\n');
        expect(await waitFor(() => /^HTTP\/1\.1 200 OK/.test(c.state.data), 10_000)).toBe(true);
      }
      expect(await waitFor(() => childPids(s.pid).length === 0)).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBe(8);
    expect(zombieChildren(s.pid)).toEqual([]);
  });

  it('--fork-after head (the default): half a head costs no child; each head that completes gets one, within the bound', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--no-access-log'], ['prlimit', '--nproc=16:16']);
    const s = server;
    expect(await waitFor(() => /At most 8 children at once \(--max-children\)/.test(s.stderr()))).toBe(true);
    expect(s.stderr()).toMatch(/A child is forked once a request head has come \(--fork-after head\); up to \d+ connections wait for theirs/);
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, childPids(s.pid).length)), 5);
    try {
      // Forty clients send half a head and stop: more than the bound, and not one child for them.
      const held = Array.from({ length: 40 }, () => connection(s.port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n'));
      expect(await waitFor(() => held.every((c) => !c.sock.connecting && c.sock.writableLength === 0), 5000)).toBe(true);
      // A normal client is answered meanwhile.
      const res = await fetch(`${s.url}/`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(5000) });
      expect(res.status).toBe(200);
      await res.text();
      expect(childPids(s.pid).filter((pid) => procState(pid) !== 'Z').length).toBeLessThanOrEqual(1);
      // Every head completed at once: each gets its child, never more than 8 alive.
      for (const c of held) c.sock.write('\r\n');
      for (const c of held) expect(await waitFor(() => /^HTTP\/1\.1 200 OK/.test(c.state.data), 10_000)).toBe(true);
      expect(await waitFor(() => childPids(s.pid).length === 0)).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBeLessThanOrEqual(8);
    expect(zombieChildren(s.pid)).toEqual([]);
  });

  it('--fork-after head: a head that stalls past --headers-timeout is answered 408 by the parent, with no child', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--headers-timeout', '1']);
    const s = server;
    const c = connection(s.port, 'GET / HTTP/1.1\r\nHost: t\r\n');
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, childPids(s.pid).length)), 5);
    try {
      expect(await waitFor(() => /^HTTP\/1\.1 408 /.test(c.state.data), 5000), c.state.data).toBe(true);
    } finally {
      clearInterval(sampler);
    }
    expect(most).toBe(0);
  });

  it('--max-children 0 removes the bound', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--max-children', '0'], ['prlimit', '--nproc=16:16']);
    const s = server;
    expect(await waitFor(() => /No bound on children \(--max-children 0\)/.test(s.stderr()))).toBe(true);
  });
});

describe('fork engine: app interfaces', () => {
  it('gives a WSGI app the CGI/WSGI environ', async () => {
    server = await startServer(`${apps}:echo`);
    const res = await fetch(`${server.url}/a%20b/c?q=1&r=2`, { method: 'PUT', body: 'hello', headers: { 'x-custom': 'yes', 'content-type': 'text/plain' } });
    const env = await res.json();
    expect(env).toMatchObject({
      method: 'PUT', path: '/a b/c', query: 'q=1&r=2', protocol: 'HTTP/1.1', contentType: 'text/plain',
      contentLength: '5', length: 5, custom: 'yes', host: `127.0.0.1:${server.port}`, remoteAddr: '127.0.0.1', serverPort: String(server.port),
    });
    expect(Number(env.remotePort)).toBeGreaterThan(0);
    expect(env.pid).not.toBe(server.pid); // served in a forked child, and process.pid says so
  });

  it('serves a Fetch-style app', async () => {
    server = await startServer(`${apps}:fetchApp`);
    const res = await fetch(`${server.url}/missing?z=9`);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-app')).toBe('fetch');
    expect(await res.text()).toBe('fetch GET /missing?z=9\n');
  });

  it('runs async handlers with timers and fs.promises in the child', async () => {
    server = await startServer(`${apps}:asyncWork`);
    const text = await (await fetch(server.url)).text();
    const m = /^pid (\d+) stat (\d+)\n$/.exec(text);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(m![2]); // process.pid matches the kernel's view in the child
    expect(Number(m![1])).not.toBe(server.pid);
  });

  it('streams an iterable body with the chunked coding', async () => {
    server = await startServer(`${apps}:stream`);
    const raw = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(raw).toContain('7\r\npart 0\n\r\n');
    expect(raw.endsWith('0\r\n\r\n')).toBe(true);
  });
});

describe('fork engine: request bodies', () => {
  it('delivers a 1 MiB POST body whole to the app', async () => {
    server = await startServer(`${apps}:echo`);
    const body = randomBytes(1 << 20);
    const res = await fetch(server.url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    const env = await res.json();
    expect(env.length).toBe(1 << 20);
    expect(env.sha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('delivers a 1 MiB POST body sent with curl to a Fetch app', async () => {
    server = await startServer(`${apps}:fetchApp`);
    const file = `${fs.mkdtempSync('/tmp/forkserve-')}/body.bin`;
    const body = randomBytes(1 << 20);
    fs.writeFileSync(file, body);
    const { stdout } = await run('curl', ['-s', '--data-binary', `@${file}`, server.url]);
    expect(JSON.parse(stdout)).toEqual({ length: 1 << 20, sha256: createHash('sha256').update(body).digest('hex') });
  });
});

describe('fork engine: load leaves no zombies and no leaked descriptors', () => {
  it('answers 1,000 sequential and 200 concurrent requests', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--no-access-log', '--log-level', 'debug']);
    const s = server;
    // The baseline is taken once the parent's loop runs (it opens its
    // self-pipe after "Listening at"): after a first request, at rest.
    expect((await fetch(`${s.url}/first`, { headers: { connection: 'close' } })).status).toBe(200);
    expect(await waitFor(() => /Reaped child/.test(s.stderr()))).toBe(true);
    const fdsBefore = fdCount(s.pid);
    let ok = 0;
    for (let i = 0; i < 1000; i++) {
      const res = await fetch(`${s.url}/seq/${i}`, { headers: { connection: 'close' } });
      if (res.status === 200 && (await res.text()) === `Hello, World! You asked for /seq/${i}\n`) ok++;
    }
    expect(ok).toBe(1000);
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await fetch(`${s.url}/par/${i}`, { headers: { connection: 'close' } });
        return res.status === 200 && (await res.text()) === `Hello, World! You asked for /par/${i}\n`;
      }),
    );
    expect(results.filter(Boolean).length).toBe(200);
    // Every child exits after its connection; the SIGCHLD-driven waitpid loop reaps them all.
    const reaped = await waitFor(() => (s.stderr().match(/Reaped child/g) ?? []).length >= 1201, 10_000);
    expect(reaped).toBe(true);
    expect(zombieChildren(s.pid)).toEqual([]);
    expect(await waitFor(() => fdCount(s.pid) === fdsBefore)).toBe(true);
  });
});

describe('fork engine: failures', () => {
  it('answers 500 when the app throws, and keeps serving', async () => {
    server = await startServer(`${apps}:boom`);
    const res = await fetch(`${server.url}/fail`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('500 Internal Server Error\n');
    expect(server.stderr()).toMatch(/the app failed on purpose/);
    const ok = await fetch(`${server.url}/ok`);
    expect(await ok.text()).toBe('fine\n');
  });

  it('closes the connection and reaps a child that crashes, and keeps serving', async () => {
    server = await startServer(`${apps}:crash`);
    const raw = await rawRequest(server.port, 'GET /crash HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(raw).toBe(''); // the child died before writing anything; the connection closed
    const s = server;
    expect(await waitFor(() => /Reaped child \d+: killed by SIGABRT/.test(s.stderr()))).toBe(true);
    const ok = await fetch(`${s.url}/ok`);
    expect(await ok.text()).toBe('fine\n');
    expect(zombieChildren(s.pid)).toEqual([]);
  });

  it('answers 503 from the child\'s watchdog when a handler blocks past --timeout, and keeps serving', async () => {
    server = await startServer(`${apps}:hang`, ['--timeout', '1']);
    const res = await fetch(`${server.url}/hang`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    // The whole body, as long as its Content-Length says.
    expect(await res.text()).toBe('request timed out (503)\n');
    const s = server;
    expect(await waitFor(() => /Reaped child \d+: exited 124: the request watchdog ended it \(--timeout 1 s\)/.test(s.stderr()))).toBe(true);
    expect(await (await fetch(`${s.url}/`)).text()).toMatch(/^pid \d+/);
    expect(zombieChildren(s.pid)).toEqual([]);
  });

  it('answers 503 from the parent when fork() fails with EAGAIN, and keeps serving', async (ctx) => {
    if (!pidsControllerAvailable()) ctx.skip(); // no cgroup v1 pids controller to limit fork()
    server = await startServer(`${apps}:slow`, ['--no-access-log']);
    const s = server;
    // Once the group is full (threads count too), fork(2) fails with EAGAIN, as under RLIMIT_NPROC.
    const group = pidsGroup(s.pid);
    try {
      const tasks = group.current();
      group.limit(tasks + 1);
      const first = fetch(`${s.url}/?ms=1500`); // takes the one free slot
      await waitFor(() => group.current() === tasks + 1);
      const refused = await fetch(`${s.url}/?ms=0`);
      expect(refused.status).toBe(503);
      expect(await waitFor(() => /fork: EAGAIN/.test(s.stderr()))).toBe(true);
      expect((await first).status).toBe(200);
      group.limit('max');
      const again = await fetch(`${s.url}/?ms=0`);
      expect(again.status).toBe(200);
    } finally {
      expect(await group.release(s.pid)).toBe(true);
    }
  });
});
