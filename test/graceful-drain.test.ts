// A graceful stop that a load balancer can trust (docs/deploy.md, "What
// SIGTERM does"): the connections already waiting in the accept queue when
// SIGTERM comes are accepted and answered, not reset, and new connections
// are refused at once while the requests in flight finish. On TCP and on
// an AF_UNIX socket, for the engines with a native loop (fork, prefork,
// poll). The node engine leaves it to node:http (not covered).
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, childPids, startServer, waitFor } from './helpers/server.js';

const linux = process.platform === 'linux';
let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-drain-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

type Target = { port: number } | { path: string };
const connectTo = (t: Target) => ('port' in t ? net.connect(t.port, '127.0.0.1') : net.connect(t.path));

/** One request on a new connection: resolves with the status line, or the error code (ECONNRESET). */
function request(t: Target, target = '/'): { connected: Promise<void>; result: Promise<string> } {
  const sock = connectTo(t);
  let data = '';
  const connected = new Promise<void>((resolve) => sock.once('connect', () => {
    sock.write(`GET ${target} HTTP/1.1\r\nHost: drain\r\n\r\n`);
    resolve();
  }));
  const result = new Promise<string>((resolve) => {
    sock.setTimeout(20_000, () => sock.destroy(new Error('timeout')));
    sock.on('data', (d) => (data += d));
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(data ? data.split('\r\n')[0] : (e.code ?? e.message)));
    sock.on('close', () => resolve(data ? data.split('\r\n')[0] : 'closed, no answer'));
  });
  return { connected, result };
}

/** Connects and resolves 'connected' or the error code, closing at once. */
function probe(t: Target): Promise<string> {
  return new Promise((resolve) => {
    const sock = connectTo(t);
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** The exit status of a server already told to stop (another SIGTERM would race its exit). */
function exitOf(proc: ChildProcess): Promise<number | string | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode ?? proc.signalCode);
  return new Promise((resolve) => proc.once('exit', (code, sig) => resolve(code ?? sig)));
}

const ENGINES = [['fork'], ['prefork', '--workers', '2'], ['poll']];

describe.skipIf(!linux).each(ENGINES)('SIGTERM on the %s engine', (engine, ...extra) => {
  it('answers every connection still in the accept queue (TCP and unix), then refuses new ones', async () => {
    const sock = path.join(dir, `${engine}.sock`);
    const server = await startServer(`${FIXTURES}/apps.ts:echo`, ['--engine', engine, ...extra, '--bind', `unix:${sock}`, '--no-access-log']);
    const tcp = { port: server.port };
    const unix = { path: sock };
    // Workers must be up before the tree is frozen.
    if (engine === 'prefork') await waitFor(() => childPids(server.pid).length === 2, 10_000);
    const tree = [server.pid, ...childPids(server.pid)];
    for (const pid of tree) process.kill(pid, 'SIGSTOP');
    let reqs: ReturnType<typeof request>[] = [];
    try {
      // With the server stopped, the kernel completes each handshake and queues the connection.
      reqs = Array.from({ length: 40 }, (_, i) => request(i % 2 ? unix : tcp));
      await Promise.all(reqs.map((r) => r.connected));
      process.kill(server.pid, 'SIGTERM');
    } finally {
      for (const pid of tree) process.kill(pid, 'SIGCONT');
    }
    const results = await Promise.all(reqs.map((r) => r.result));
    expect(results.filter((r) => r !== 'HTTP/1.1 200 OK')).toEqual([]);
    expect(await probe(tcp)).toBe('ECONNREFUSED');
    expect(['ECONNREFUSED', 'ENOENT']).toContain(await probe(unix));
    expect(await exitOf(server.proc)).toBe(0);
    expect(server.stderr()).toMatch(/Stopped by SIGTERM/);
  }, 40_000);
});

describe.skipIf(!linux).each(ENGINES)('SIGTERM on the %s engine, requests in flight', (engine, ...extra) => {
  it('refuses a new connection at once while a slow request finishes', async () => {
    const server = await startServer(`${FIXTURES}/apps.ts:slow`, ['--engine', engine, ...extra, '--no-access-log']);
    const tcp = { port: server.port };
    if (engine === 'prefork') await waitFor(() => childPids(server.pid).length === 2, 10_000);
    const slow = request(tcp, '/?ms=4000');
    await slow.connected;
    let slowDone = false;
    void slow.result.then(() => (slowDone = true));
    // The request reached the app: a fork child exists, or a worker/the poll loop read it (give it the moment).
    if (engine === 'fork') await waitFor(() => childPids(server.pid).length > 0);
    process.kill(server.pid, 'SIGTERM');
    // Refused (a SYN answered with a reset), not queued to be reset at exit.
    let last = '';
    for (let i = 0; i < 100 && !slowDone; i++) {
      last = await probe(tcp);
      if (last === 'ECONNREFUSED') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(last).toBe('ECONNREFUSED');
    expect(slowDone).toBe(false);
    expect(await slow.result).toBe('HTTP/1.1 200 OK');
    expect(await exitOf(server.proc)).toBe(0);
  }, 40_000);
});

describe.skipIf(!linux)('SIGTERM while prefork workers start', () => {
  it('answers the connection already queued, and no worker dies of SIGTERM\'s default action', async () => {
    const server = await startServer(`${FIXTURES}/apps.ts:slow`, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    // Right after "Listening at": the workers are forked and still loading.
    const queued = request({ port: server.port }, '/?ms=500');
    await queued.connected;
    process.kill(server.pid, 'SIGTERM');
    expect(await queued.result).toBe('HTTP/1.1 200 OK');
    expect(await exitOf(server.proc)).toBe(0);
    expect(server.stderr()).not.toMatch(/killed by SIGTERM/);
  }, 30_000);
});
