// Behind a proxy: X-Forwarded-For/-Proto and RFC 7239 Forwarded from
// trusted peers only (--forwarded-allow-ips), with nginx in front; the
// PROXY protocol (v1, v2) parsed natively, with HAProxy's send-proxy-v2 and
// its health checks in front. Distinct loopback sources (curl --interface
// 127.0.0.N) make the client's address differ from the proxy's.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx } from './helpers/nginx.js';
import { FIXTURES, rawRequest, startServer, waitFor } from './helpers/server.js';

const run = promisify(execFile);
const linux = process.platform === 'linux';
const WSGI = `${FIXTURES}/proxy-apps.ts:wsgi`;
const FETCH = `${FIXTURES}/proxy-apps.ts:fetchApp`;
const have = (cmd: string) => ['/usr/bin', '/usr/sbin'].some((d) => fs.existsSync(path.join(d, cmd)));

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-proxy-'));
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function getJson(url: string, args: string[] = []): Promise<Record<string, string>> {
  const { stdout } = await run('curl', ['-s', '-f', '--max-time', '10', ...args, url]);
  return JSON.parse(stdout);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Retries getJson until the proxy in front answers (it has no readiness line), bounded. */
async function throughProxy(url: string, args: string[]): Promise<Record<string, string>> {
  for (let i = 0; i < 200; i++) {
    try {
      return await getJson(url, args);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return getJson(url, args);
}

describe.skipIf(!linux).each(['fork', 'poll'] as const)('forwarding fields on the %s engine', (engine) => {
  it('from a trusted peer (loopback, the default) they set REMOTE_ADDR, wsgi.url_scheme and the Fetch URL scheme', async () => {
    const wsgi = await startServer(WSGI, ['-k', engine, '--no-access-log']);
    const fetch = await startServer(FETCH, ['-k', engine, '--no-access-log']);
    try {
      expect(await getJson(`${wsgi.url}/`)).toMatchObject({ remoteAddr: '127.0.0.1', scheme: 'http' });
      expect(await getJson(`${wsgi.url}/`, ['-H', 'X-Forwarded-For: 203.0.113.7, 127.0.0.1', '-H', 'X-Forwarded-Proto: https']))
        .toMatchObject({ remoteAddr: '203.0.113.7', scheme: 'https' });
      expect(await getJson(`${wsgi.url}/`, ['-H', 'Forwarded: for=198.51.100.2;proto=https, for=127.0.0.1']))
        .toMatchObject({ remoteAddr: '198.51.100.2', scheme: 'https' });
      expect(await getJson(`${wsgi.url}/`, ['-H', 'Forwarded: for="[2001:db8::1]:4711";proto=http'])).toMatchObject({ remoteAddr: '2001:db8::1' });
      expect((await getJson(`${fetch.url}/a?b=1`, ['-H', 'X-Forwarded-Proto: https'])).url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/a\?b=1$/);
    } finally {
      await wsgi.stop();
      await fetch.stop();
    }
  });

  it('from a peer not in --forwarded-allow-ips they are ignored', async () => {
    const server = await startServer(WSGI, ['-k', engine, '--forwarded-allow-ips', '10.9.9.9', '--no-access-log']);
    try {
      expect(await getJson(`${server.url}/`, ['-H', 'X-Forwarded-For: 203.0.113.7', '-H', 'X-Forwarded-Proto: https', '-H', 'Forwarded: for=198.51.100.2']))
        .toMatchObject({ remoteAddr: '127.0.0.1', scheme: 'http' });
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!linux || !have('nginx'))('nginx in front, over TCP', () => {
  it.each([
    ['trusted', [], '127.0.0.5'],
    ['not trusted', ['--forwarded-allow-ips', '10.9.9.9'], '127.0.0.1'],
  ] as const)('%s: the app sees the client from X-Forwarded-For only when nginx is trusted', async (_what, flags, expected) => {
    const server = await startServer(WSGI, ['-k', 'poll', '--no-access-log', ...flags]);
    const port = await freePort();
    const nginx = startNginx(dir, `nginx-${port}`, `
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${server.port};
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
    }
  }`);
    try {
      const seen = await throughProxy(`http://127.0.0.1:${port}/`, ['--interface', '127.0.0.5']);
      expect(seen.remoteAddr).toBe(expected);
      expect(seen.scheme).toBe(expected === '127.0.0.1' ? 'http' : 'https');
    } finally {
      nginx.stop();
      await server.stop();
    }
  });
});

/** A PROXY v2 header for TCP over IPv4 from src:sport. */
function proxyV2(src: number[], sport: number): Buffer {
  return Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11, 0, 12,
    ...src, 127, 0, 0, 1, sport >> 8, sport & 0xff, 0x1f, 0x90]);
}
const REQ = 'GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

describe.skipIf(!linux).each(['iterative', 'fork', 'prefork', 'poll'] as const)('--proxy-protocol on the %s engine', (engine) => {
  it('v1 and v2 headers name the client; LOCAL keeps the peer; garbage, or no header, is closed unanswered', async () => {
    const server = await startServer(WSGI, ['-k', engine, ...(engine === 'prefork' ? ['-w', '1'] : []), '--proxy-protocol']);
    try {
      const body = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expect(body(await rawRequest(server.port, `PROXY TCP4 203.0.113.9 127.0.0.1 40000 80\r\n${REQ}`))).toMatchObject({ remoteAddr: '203.0.113.9', remotePort: '40000' });
      expect(body(await rawRequest(server.port, `PROXY TCP6 2001:db8::9 ::1 40001 80\r\n${REQ}`))).toMatchObject({ remoteAddr: '2001:db8::9', remotePort: '40001' });
      expect(body(await rawRequest(server.port, Buffer.concat([proxyV2([198, 51, 100, 7], 12345), Buffer.from(REQ)])))).toMatchObject({ remoteAddr: '198.51.100.7', remotePort: '12345' });
      const local = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0, 0]);
      expect(body(await rawRequest(server.port, Buffer.concat([local, Buffer.from(REQ)])))).toMatchObject({ remoteAddr: '127.0.0.1' });
      const answered = () => (server.stderr().match(/"GET \/who/g) ?? []).length;
      // A line is written after its response is sent: wait for the four answered above.
      expect(await waitFor(() => answered() === 4)).toBe(true);
      for (const bad of [REQ, 'PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n' + REQ, 'PROXY TCP4 1.2.3.4\r\n' + REQ, Buffer.concat([proxyV2([1, 2, 3, 4], 1).subarray(0, 12), Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12), Buffer.from(REQ)])]) {
        expect(await rawRequest(server.port, bad)).toBe('');
      }
      // None of them reached the app (no access-log line), and the server goes on.
      expect(body(await rawRequest(server.port, `PROXY TCP4 203.0.113.10 127.0.0.1 40002 80\r\n${REQ}`)).remoteAddr).toBe('203.0.113.10');
      expect(await waitFor(() => answered() === 5)).toBe(true);
      expect(server.stderr().match(/"GET \/who/g)).toHaveLength(5);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!linux).each(['fork', 'poll'] as const)('a PROXY header that does not finish (%s)', (engine) => {
  it('is closed after --headers-timeout, unanswered', async () => {
    const server = await startServer(WSGI, ['-k', engine, '--proxy-protocol', '--headers-timeout', '1']);
    try {
      const sock = net.connect(server.port, '127.0.0.1');
      let received = '';
      sock.on('data', (d) => (received += d));
      sock.on('error', () => {});
      const closed = new Promise<boolean>((resolve) => {
        const bound = setTimeout(() => resolve(false), 10_000);
        sock.on('close', () => { clearTimeout(bound); resolve(true); });
      });
      sock.write('PROXY TCP4 203.0.');
      expect(await closed).toBe(true);
      expect(received).toBe('');
      sock.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!linux || !have('haproxy'))('HAProxy in front with send-proxy-v2 and health checks', () => {
  it.each(['fork', 'poll'] as const)('%s: REMOTE_ADDR is the original client\'s', async (engine) => {
    const server = await startServer(WSGI, ['-k', engine, '--proxy-protocol']);
    const port = await freePort();
    const conf = path.join(dir, `haproxy-${engine}.cfg`);
    fs.writeFileSync(conf, `global
  log stderr format raw local0 err
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend web
  bind 127.0.0.1:${port}
  default_backend app
backend app
  option httpchk GET /health
  server s1 127.0.0.1:${server.port} send-proxy-v2 check check-send-proxy inter 200ms fall 2 rise 1
`);
    const haproxy = spawn('haproxy', ['-f', conf, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      // Served only once a health check (itself behind a PROXY header) has passed.
      const seen = await throughProxy(`http://127.0.0.1:${port}/who`, ['--interface', '127.0.0.6']);
      expect(seen.remoteAddr).toBe('127.0.0.6');
      expect(await waitFor(() => /GET \/health/.test(server.stderr()), 5000)).toBe(true);
      for (let i = 0; i < 10; i++) expect((await getJson(`http://127.0.0.1:${port}/n${i}`, ['--interface', '127.0.0.7'])).remoteAddr).toBe('127.0.0.7');
    } finally {
      haproxy.kill('SIGTERM');
      await server.stop();
    }
  });
});
