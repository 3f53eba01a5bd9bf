// HTTP/1.1 behaviour a client sees on the native engines: timeouts,
// configurable limits, persistent-connection rules (RFC 9112 §9).
import { afterEach, describe, expect, it } from 'vitest';
import { connection } from './helpers/connection.js';
import { FIXTURES, rawRequest, startServer, waitFor, type RunningServer } from './helpers/server.js';

const app = `${FIXTURES}/conformance.ts:wsgi`;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

describe.each(['fork', 'prefork', 'iterative'])('engine %s', (engine) => {
  it('answers 408 when the header section does not arrive in time, and keeps serving', async () => {
    server = await startServer(app, ['--engine', engine, '--workers', '1', '--headers-timeout', '1', '--no-access-log']);
    const slow = connection(server.port, 'GET /hello HTTP/1.1\r\nHost: t\r\n'); // never finished
    expect(await waitFor(() => slow.state.closed, 5000)).toBe(true);
    expect(slow.state.data).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect((await fetch(`${server.url}/hello`)).status).toBe(200);
  });

  it('applies configured limits: 414, 431 for fields, 431 for size, 413', async () => {
    server = await startServer(app, ['--engine', engine, '--workers', '1', '--limit-request-line', '64', '--limit-request-fields', '3',
      '--limit-headers-size', '256', '--max-body', '10', '--no-access-log']);
    const port = server.port;
    expect(await rawRequest(port, `GET /${'x'.repeat(80)} HTTP/1.1\r\nHost: t\r\n\r\n`)).toMatch(/^HTTP\/1\.1 414 /);
    expect(await rawRequest(port, 'GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n')).toMatch(/^HTTP\/1\.1 431 /);
    expect(await rawRequest(port, `GET / HTTP/1.1\r\nHost: t\r\nA: ${'v'.repeat(300)}\r\n\r\n`)).toMatch(/^HTTP\/1\.1 431 /);
    expect(await rawRequest(port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world')).toMatch(/^HTTP\/1\.1 413 /);
    expect(await rawRequest(port, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhelloworld')).toMatch(/^HTTP\/1\.1 200 [^]*helloworld$/);
  });
});

describe.each(['fork', 'prefork'])('persistent connections on %s', (engine) => {
  it('closes an idle persistent connection after the keep-alive timeout', async () => {
    server = await startServer(app, ['--engine', engine, '--workers', '1', '--keep-alive', '1', '--no-access-log']);
    const c = connection(server.port, 'GET /hello HTTP/1.1\r\nHost: t\r\n\r\n');
    expect(await waitFor(() => c.state.data.includes('Hello, World!'))).toBe(true);
    expect(c.state.closed).toBe(false);
    expect(await waitFor(() => c.state.closed, 4000)).toBe(true);
  });

  it('keeps HTTP/1.0 connections only with Connection: keep-alive, and honours Connection: close', async () => {
    server = await startServer(app, ['--engine', engine, '--workers', '1', '--no-access-log']);
    const ten = await rawRequest(server.port, 'GET /hello HTTP/1.0\r\n\r\nGET /json HTTP/1.0\r\n\r\n');
    expect([...ten.matchAll(/HTTP\/1\.1 200/g)].length).toBe(1); // closed after the first
    const tenKeep = await rawRequest(server.port, 'GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /json HTTP/1.0\r\n\r\n');
    expect([...tenKeep.matchAll(/HTTP\/1\.1 200/g)].length).toBe(2);
    expect(tenKeep).toMatch(/\r\nConnection: keep-alive\r\n/);
    const close = await rawRequest(server.port, 'GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /json HTTP/1.1\r\nHost: t\r\n\r\n');
    expect([...close.matchAll(/HTTP\/1\.1 200/g)].length).toBe(1);
    expect(close).toMatch(/\r\nConnection: close\r\n/);
  });

  it('sends 204 and 304 without a body or Content-Length', async () => {
    server = await startServer(app, ['--engine', engine, '--workers', '1', '--no-access-log']);
    const raw = await rawRequest(server.port, 'GET /status/204 HTTP/1.1\r\nHost: t\r\n\r\nGET /status/304 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const parts = raw.split(/(?=HTTP\/1\.1 )/);
    expect(parts.map((p) => p.slice(9, 12))).toEqual(['204', '304']);
    for (const p of parts) {
      expect(p).not.toMatch(/content-length|transfer-encoding/i);
      expect(p.endsWith('\r\n\r\n')).toBe(true);
    }
  });
});
