// The forking load client (src/client.ts) against small node:http and node:net
// servers in this process. The client forks, so it runs in its own
// `node --single-threaded` process; the servers here count what arrives.
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { formatReport, summarizeLatencies, type ClientOptions, type ClientReport } from '../src/client.js';
import { CLI, ROOT } from './helpers/server.js';

const run = promisify(execFile);
const servers: net.Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    (s as http.Server).closeAllConnections?.();
    await new Promise((r) => s.close(r));
  }
});

async function listen<T extends net.Server>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** Runs runClient() in a `node --single-threaded` process; also reports that process's children afterwards. */
async function client(opts: ClientOptions): Promise<{ report: ClientReport; treeAfter: number; zombiesAfter: number }> {
  const script = `
    const { runClient } = await import(${JSON.stringify(path.join(ROOT, 'dist/client.js'))});
    const { processTree, zombies } = await import(${JSON.stringify(path.join(ROOT, 'dist/observe.js'))});
    const report = await runClient(JSON.parse(process.env.CLIENT_OPTS));
    process.stdout.write(JSON.stringify({ report, treeAfter: processTree(process.pid).length, zombiesAfter: zombies(process.pid).length }));`;
  const { stdout } = await run(process.execPath, ['--single-threaded', '--input-type=module', '-e', script], {
    env: { ...process.env, CLIENT_OPTS: JSON.stringify(opts) },
    timeout: 60_000,
  });
  return JSON.parse(stdout);
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('runClient against node:http', () => {
  it('forks N clients × M connections: every request arrives once and is counted by status', async () => {
    const seen: string[] = [];
    const port = await listen(
      http.createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.connection} ${req.headers.host}`);
        res.end('hello\n');
      }),
    );
    const { report, treeAfter, zombiesAfter } = await client({ url: `http://127.0.0.1:${port}/path?q=1`, maxClients: 4, maxConns: 5 });
    expect(seen).toHaveLength(20);
    expect(new Set(seen)).toEqual(new Set([`GET /path?q=1 close 127.0.0.1:${port}`]));
    expect(report).toMatchObject({ clients: 4, connsPerClient: 5, attempted: 20, responses: 20, byStatus: { '200': 20 }, errors: {}, errorCount: 0 });
    const l = report.latencyMs!;
    expect(l.count).toBe(20);
    expect(l.min).toBeGreaterThan(0);
    expect(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max).toBe(true);
    // Every client process reported and was reaped: nothing is left under the parent.
    expect(report.children).toHaveLength(4);
    expect(report.children.every((c) => c.status === 'exited 0')).toBe(true);
    expect(new Set(report.children.map((c) => c.pid)).size).toBe(4);
    expect(treeAfter).toBe(1);
    expect(zombiesAfter).toBe(0);
  });

  it('counts responses by status code', async () => {
    let n = 0;
    const port = await listen(
      http.createServer((req, res) => {
        n++;
        res.statusCode = n % 2 ? 404 : 200;
        res.end(req.url);
      }),
    );
    const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 2, maxConns: 3 });
    expect(n).toBe(6);
    expect(report.byStatus).toEqual({ '200': 3, '404': 3 });
    expect(report.responses).toBe(6);
  });

  it('reads chunked and close-delimited bodies to their end', async () => {
    const chunked = await listen(
      http.createServer((_req, res) => {
        res.write('part 1\n');
        setTimeout(() => res.end('part 2\n'), 20);
      }),
    );
    const closeDelimited = await listen(
      net.createServer((sock) => {
        sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end\n'));
      }),
    );
    for (const port of [chunked, closeDelimited]) {
      const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 2, maxConns: 2 });
      expect(report).toMatchObject({ responses: 4, byStatus: { '200': 4 }, errorCount: 0 });
    }
  });
});

describe('runClient errors', () => {
  it('refused: nothing listens on the port', async () => {
    const port = await closedPort();
    const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 3, maxConns: 2 });
    expect(report).toMatchObject({ attempted: 6, responses: 0, byStatus: {}, errors: { refused: 6 }, errorCount: 6, latencyMs: null });
    expect(report.children.every((c) => c.status === 'exited 0')).toBe(true);
  });

  it('reset: the server resets the connection', async () => {
    const port = await listen(net.createServer((sock) => sock.once('data', () => sock.resetAndDestroy())));
    const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 2, maxConns: 2 });
    expect(report.errors).toEqual({ reset: 4 });
  });

  it('incomplete: the server closes before the response is whole', async () => {
    const port = await listen(
      net.createServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'))),
    );
    const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 2, maxConns: 1 });
    expect(report.errors).toEqual({ incomplete: 2 });
  });

  it('timeout: the server accepts and never answers (bounded by alarm(2))', async () => {
    // Reads the request (a paused socket would never see the client's FIN) and never answers.
    const port = await listen(net.createServer((sock) => sock.resume()));
    const t0 = Date.now();
    const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 2, maxConns: 2, timeoutMs: 1000 });
    expect(report.errors).toEqual({ timeout: 4 });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(report.children.every((c) => c.status === 'exited 0')).toBe(true);
  });
});

describe('runClient hold', () => {
  it('keeps each socket open for `hold` seconds after its response', async () => {
    const held: number[] = [];
    const port = await listen(
      net.createServer((sock) => {
        let answeredAt = 0;
        sock.once('data', () => {
          // A framed response the server does not close: only the client ends the connection.
          sock.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nhi\n');
          answeredAt = Date.now();
        });
        sock.on('end', () => {
          held.push(Date.now() - answeredAt);
          sock.end();
        });
      }),
    );
    const { report } = await client({ url: `http://127.0.0.1:${port}/`, maxClients: 2, maxConns: 2, hold: 1 });
    expect(report.responses).toBe(4);
    expect(held).toHaveLength(4);
    for (const ms of held) expect(ms).toBeGreaterThanOrEqual(900);
    expect(report.latencyMs!.max).toBeLessThan(900); // the hold is not counted as latency
  });
});

describe('forkserve client (CLI)', () => {
  it('prints the report, exit status 0 when every request got a response', async () => {
    let n = 0;
    const port = await listen(http.createServer((_req, res) => void (n++, res.end('ok'))));
    const { stdout } = await run(process.execPath, [CLI, 'client', '--max-clients', '3', '--max-conns', '2', '--url', `http://127.0.0.1:${port}/`], { timeout: 60_000 });
    expect(n).toBe(6);
    expect(stdout).toMatch(new RegExp(`^3 client processes × 2 connections to http://127\\.0\\.0\\.1:${port}/: 6 requests in [\\d.]+ s\\n`));
    expect(stdout).toMatch(/\nresponses: 6 \(200: 6\)\nerrors: {4}0\nlatency: {3}p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms/);
  });

  it('--json; exit status 1 when some requests failed', async () => {
    const port = await closedPort();
    const err = await run(process.execPath, [CLI, 'client', '-c', '2', '-n', '1', '-u', `http://127.0.0.1:${port}/`, '--json'], { timeout: 60_000 }).catch((e) => e);
    expect(err.code).toBe(1);
    expect(JSON.parse(err.stdout)).toMatchObject({ attempted: 2, responses: 0, errors: { refused: 2 } });
  });

  it('exit status 2 on a usage error', async () => {
    for (const args of [[], ['--max-clients', '0', '--max-conns', '1'], ['-c', '1', '-n', '1', '--url', 'http://example.com/'], ['-c', '1', '-n', '1', '--bogus']]) {
      const err = await run(process.execPath, [CLI, 'client', ...args], { timeout: 30_000 }).catch((e) => e);
      expect(err.code).toBe(2);
      expect(err.stderr).toMatch(/^forkserve client: /);
    }
  });
});

describe('report helpers', () => {
  it('summarizeLatencies: nearest-rank percentiles', () => {
    const l = summarizeLatencies(Array.from({ length: 100 }, (_, i) => i + 1))!;
    expect(l).toEqual({ count: 100, min: 1, mean: 50.5, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(summarizeLatencies([7])).toEqual({ count: 1, min: 7, mean: 7, p50: 7, p90: 7, p99: 7, max: 7 });
    expect(summarizeLatencies([])).toBeNull();
  });

  it('formatReport', () => {
    const text = formatReport({
      url: 'http://127.0.0.1:8888/', clients: 2, connsPerClient: 3, attempted: 6, responses: 4, byStatus: { '404': 1, '200': 3 },
      errors: { refused: 1, timeout: 1 }, errorCount: 2, latencyMs: summarizeLatencies([1, 2, 3, 40]), elapsedMs: 1234,
      children: [{ pid: 10, status: 'exited 0' }, { pid: 11, status: 'killed by SIGKILL' }],
    });
    expect(text).toBe(
      '2 client processes × 3 connections to http://127.0.0.1:8888/: 6 requests in 1.23 s\n' +
        'responses: 4 (200: 3, 404: 1)\n' +
        'errors:    2 (refused: 1, timeout: 1)\n' +
        'latency:   p50 2.00 ms, p90 40.0 ms, p99 40.0 ms, max 40.0 ms (min 1.00 ms, mean 11.5 ms)\n' +
        'client processes that failed: 11 killed by SIGKILL\n',
    );
  });
});
