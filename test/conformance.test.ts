// One conformance suite, run against every engine: the same apps (WSGI
// sync/async, Fetch, Hono) must give identical responses; bad input gets
// the right status and the server keeps serving; failures are recovered
// from; after each test no zombies and no leaked descriptors remain.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { descriptors } from '../src/observe.js';
import { FIXTURES, childPids, fdCount, fdTable, rawRequest, startServer, waitFor, zombieChildren, type RunningServer } from './helpers/server.js';

const ENGINES = ['iterative', 'fork', 'prefork', 'poll', 'node'] as const;
type Engine = (typeof ENGINES)[number];
const APPS = ['wsgi', 'wsgiAsync', 'fetchApp', 'honoApp'] as const;
const persistent = (e: Engine) => e !== 'iterative';
// Engines whose processes serve one connection at a time need several for overlap tests.
// The node engine runs as node:http in one process: the reference. (Under
// node:cluster the primary itself holds accepted sockets, so the server's
// descriptor count is not a leak check there; npm run bench measures it.)
const args = (e: Engine) => ['--engine', e, ...(e === 'node' ? [] : ['--workers', '2']), '--max-body', String(4 << 20), '--no-access-log'];

interface Seen { status: number; headers: Record<string, string>; body: string }

/** The parts of a response that must agree across engines (Date differs by nature). */
async function seen(res: Response): Promise<Seen> {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'x-route', 'content-length', 'server']) {
    const v = res.headers.get(name);
    if (v !== null) headers[name] = v;
  }
  const cookies = res.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies.join(' | ');
  return { status: res.status, headers, body: await res.text() };
}

const reference = new Map<string, Seen>();

describe.each(ENGINES)('engine %s', (engine) => {
  for (const app of APPS) {
    describe(`app ${app}`, () => {
      let server: RunningServer;
      let fdsAtStart = 0;
      let tableAtStart: string[] = [];
      beforeAll(async () => {
        server = await startServer(`${FIXTURES}/conformance.ts:${app}`, args(engine));
        await waitFor(() => engine !== 'prefork' ? true : childPids(server.pid).length >= 2);
        // The baseline is taken once the server is in its steady state: after
        // one request, with the child that served it gone (fork) and its
        // connection closed.
        await (await fetch(`${server.url}/hello`, { headers: { connection: 'close' } })).text();
        if (engine === 'fork') await waitFor(() => childPids(server.pid).length === 0);
        // The client may have its response before the server has closed its end.
        const connections = () => descriptors(server.pid).filter((d) => d.socket?.localPort === server.port && d.socket.state !== 'LISTEN');
        await waitFor(() => connections().length === 0, 10_000);
        fdsAtStart = fdCount(server.pid);
        tableAtStart = fdTable(server.pid);
      });
      afterAll(async () => {
        const code = await server.stop();
        expect(code).toBe(0);
      });
      afterEach(async () => {
        // No zombies, and the server's own descriptor count is back where it started.
        expect(await waitFor(() => zombieChildren(server.pid).length === 0)).toBe(true);
        // The leak check is for forkserve's engines; node:http (the reference)
        // keeps client sockets on timers of its own.
        if (engine !== 'node') {
          const back = await waitFor(() => fdCount(server.pid) === fdsAtStart, 10_000);
          const now = fdTable(server.pid);
          const diff = [...now.filter((l) => !tableAtStart.includes(l)).map((l) => `+ ${l}`), ...tableAtStart.filter((l) => !now.includes(l)).map((l) => `- ${l}`)];
          expect(back, `descriptors changed since the start:\n${diff.join('\n')}`).toBe(true);
        }
      });

      it('gives the same status, headers and body as every other engine', async () => {
        for (const path of ['/hello', '/json', '/status/404', '/status/204', '/headers', '/stream', '/nope']) {
          const got = await seen(await fetch(server.url + path, { headers: { connection: 'close' } }));
          // Streamed bodies of unknown length are chunked: no Content-Length.
          if (path === '/stream') expect(got.headers['content-length']).toBeUndefined();
          expect(got.headers.server).toBe('forkserve');
          const key = `${app} ${path}`;
          if (!reference.has(key)) reference.set(key, got);
          expect(got, `${engine} ${key}`).toEqual(reference.get(key));
        }
      });

      it('answers HEAD without a body, with the length GET would have', async () => {
        const raw = await rawRequest(server.port, 'HEAD /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
        expect(raw).toMatch(/^HTTP\/1\.1 200 /);
        // 14 as for GET; a framework that drops the body for HEAD gives no length, and none is sent.
        expect(raw).not.toMatch(/\r\ncontent-length: (?!14\r\n)/i);
        if (app.startsWith('wsgi')) expect(raw).toMatch(/\r\ncontent-length: 14\r\n/i);
        expect(raw.endsWith('\r\n\r\n')).toBe(true);
      });

      it('carries large request and response bodies intact', async () => {
        const body = randomBytes(3 << 20);
        const res = await fetch(`${server.url}/echo`, { method: 'POST', body });
        expect(Buffer.from(await res.arrayBuffer()).equals(body)).toBe(true);
        const big = await fetch(`${server.url}/big?n=${2 << 20}`);
        expect((await big.text()).length).toBe(2 << 20);
      });

      it('decodes a chunked request body', async () => {
        const raw = await rawRequest(server.port, 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n');
        expect(raw).toMatch(/^HTTP\/1\.1 200 /);
        expect(raw.endsWith('hello, world')).toBe(true);
      });

      it(persistent(engine) ? 'keeps the connection alive and answers pipelined requests in order' : 'closes the connection after each response', async () => {
        const raw = await rawRequest(server.port,
          'GET /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\nGET /status/404 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
        const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
        if (persistent(engine)) {
          expect(statuses).toEqual(['200', '200', '404']);
          expect(raw.indexOf('Hello, World!')).toBeLessThan(raw.indexOf('{"message"'));
        } else {
          expect(statuses).toEqual(['200']);
          expect(raw).toMatch(/\r\nconnection: close\r\n/i);
        }
      });

      it('answers Expect: 100-continue before the body is sent', async () => {
        const net = await import('node:net');
        const sock = net.connect(server.port, '127.0.0.1');
        let data = '';
        sock.on('data', (d) => (data += d));
        sock.write('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
        expect(await waitFor(() => data.includes('100 Continue'))).toBe(true);
        sock.write('hello');
        await waitFor(() => data.endsWith('hello'));
        sock.destroy();
        expect(data).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      });

      it('rejects bad input with the right status and keeps serving', async () => {
        const cases: Array<[string, number | RegExp]> = [
          ['GET / HTTP/1.1\r\n\r\n', 400], // no Host
          ['GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n', 400],
          ['POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
          [`GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: t\r\n\r\n`, engine === 'node' ? 431 : 414],
          [`GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`, 431],
          // llhttp (the node engine) serves HTTP/2.0 as if it were 1.x: the reference differs here.
          ['GET / HTTP/2.0\r\nHost: t\r\n\r\n', engine === 'node' ? /^HTTP\/1\.1 (400|404|505) / : 505],
          // llhttp accepts "gzip, chunked" and waits for the body: the reference may say nothing.
          ['POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', engine === 'node' ? /^(HTTP\/1\.1 (200|400|501) |$)/ : 501],
          [`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: ${8 << 20}\r\n\r\n`, 413],
        ];
        for (const [input, want] of cases) {
          const raw = await rawRequest(server.port, input, 3000);
          if (typeof want === 'number') expect(raw, JSON.stringify(input.slice(0, 60))).toMatch(new RegExp(`^HTTP/1\\.1 ${want} `));
          else expect(raw).toMatch(want);
        }
        const ok = await fetch(`${server.url}/hello`);
        expect(ok.status).toBe(200);
      });

      it('answers 500 when the app throws', async () => {
        const res = await fetch(`${server.url}/throw`);
        expect(res.status).toBe(500);
        expect((await fetch(`${server.url}/hello`)).status).toBe(200);
      });

      if (engine === 'fork' || engine === 'prefork') {
        it('recovers when a child or worker is killed', async () => {
          const before = childPids(server.pid);
          // A new TCP connection (fetch could reuse a pooled one an existing child serves).
          const pending = rawRequest(server.port, 'GET /slow?ms=3000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n', 8000)
            .then((raw) => (raw === '' ? 'closed' : Number(raw.slice(9, 12))));
          // fork: the child that serves this request is the new one; workers: any.
          let victims: number[] = [];
          await waitFor(() => (victims = engine === 'fork' ? childPids(server.pid).filter((p) => !before.includes(p)) : before).length > 0);
          process.kill(victims[0], 'SIGKILL');
          if (engine === 'fork') expect(await pending).toBe('closed');
          else await pending;
          if (engine !== 'fork') {
            // A replacement worker appears.
            expect(await waitFor(() => childPids(server.pid).filter((p) => !before.includes(p)).length > 0, 10_000)).toBe(true);
          }
          expect((await fetch(`${server.url}/hello`)).status).toBe(200);
        });
      }
    });
  }
});
