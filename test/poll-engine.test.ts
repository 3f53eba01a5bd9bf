// The poll engine end to end: one process, many connections, served through
// the CLI (--engine poll), or through test/fixtures/poll-server.mjs where an
// option is not on the command line (header timeouts).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FIXTURES, ROOT, fdCount, rawRequest, startServer, until, waitFor, type RunningServer } from './helpers/server.js';

const apps = `${FIXTURES}/apps.ts`;
const pollApps = `${FIXTURES}/poll-apps.ts`;
const hello = `${ROOT}/examples/hello.ts`;
let server: RunningServer | undefined;

afterEach(async () => {
  await server?.stop('SIGKILL');
  server = undefined;
});

const poll = (app: string, args: string[] = []) => startServer(app, ['--engine', 'poll', ...args]);

/** Starts test/fixtures/poll-server.mjs with engine options; same shape as startServer's result. */
async function startFixture(app: string, options: object): Promise<RunningServer> {
  const proc = spawn(process.execPath, [`${FIXTURES}/poll-server.mjs`, app, JSON.stringify(options)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
  const port = await new Promise<number>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`fixture did not start:\n${err}`)), 15_000);
    proc.stderr!.on('data', () => {
      const m = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(deadline);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', () => reject(new Error(`fixture exited:\n${err}`)));
  });
  return {
    pid: proc.pid!, port, url: `http://127.0.0.1:${port}`, proc, stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

interface Response {
  status: number;
  head: string;
  body: Buffer;
}

/** One client connection that reads whole responses (Content-Length or chunked), for keep-alive and pipelining. */
class Client {
  // Received bytes not consumed yet: store[start..len), grown by doubling (a 16 MiB body must not be re-copied per packet).
  private store = Buffer.alloc(1 << 16);
  private start = 0;
  private len = 0;
  private wake: (() => void) | undefined;
  ended = false;
  private constructor(readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => {
      if (this.len + d.length > this.store.length) {
        const live = this.len - this.start;
        const next = Buffer.alloc(Math.max(this.store.length * 2, live + d.length));
        this.store.copy(next, 0, this.start, this.len);
        this.store = next;
        this.start = 0;
        this.len = live;
      }
      d.copy(this.store, this.len);
      this.len += d.length;
      this.wake?.();
    });
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }

  private get buf(): Buffer {
    return this.store.subarray(this.start, this.len);
  }

  private consume(n: number): void {
    this.start += n;
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1', () => resolve(new Client(sock)));
      sock.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.sock.write(data);
  }

  /** Waits (bounded) until cond(buffer) is true. */
  private async until(cond: () => boolean, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      if (this.ended) throw new Error(`connection closed; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out; got ${JSON.stringify(this.buf.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Reads the next response (interim 1xx included); noBody for the answer to HEAD. */
  async read(timeoutMs = 5000, noBody = false): Promise<Response> {
    await this.until(() => this.buf.includes('\r\n\r\n'), timeoutMs);
    const headEnd = this.buf.indexOf('\r\n\r\n') + 4;
    const head = this.buf.subarray(0, headEnd).toString('latin1');
    const status = Number(head.slice(9, 12));
    let body: Buffer;
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (noBody || status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
      this.consume(headEnd);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = headEnd;
      for (;;) {
        await this.until(() => this.buf.indexOf('\r\n', at) >= 0, timeoutMs);
        const lineEnd = this.buf.indexOf('\r\n', at);
        const size = parseInt(this.buf.subarray(at, lineEnd).toString('latin1'), 16);
        await this.until(() => this.buf.length >= lineEnd + 2 + size + 2, timeoutMs);
        parts.push(Buffer.from(this.buf.subarray(lineEnd + 2, lineEnd + 2 + size)));
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
      this.consume(at);
    } else {
      const n = length ? Number(length[1]) : 0;
      await this.until(() => this.buf.length >= headEnd + n, timeoutMs);
      body = Buffer.from(this.buf.subarray(headEnd, headEnd + n));
      this.consume(headEnd + n);
    }
    return { status, head, body };
  }

  /** Resolves true when the server closes the connection within timeoutMs. */
  async closed(timeoutMs: number): Promise<boolean> {
    try {
      await this.until(() => false, timeoutMs);
    } catch {
      return this.ended;
    }
    return false;
  }

  close(): void {
    this.sock.destroy();
  }
}

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: x\r\n${extra}\r\n`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('poll engine: concurrency in one process', () => {
  it('overlaps 200 slow (async, 200 ms) requests', async () => {
    server = await poll(`${apps}:slow`, ['--no-access-log']);
    const s = server;
    const t0 = Date.now();
    const replies = await Promise.all(
      Array.from({ length: 200 }, () => rawRequest(s.port, get('/?ms=200', 'Connection: close\r\n'), 20_000)),
    );
    const elapsed = Date.now() - t0;
    expect(replies.filter((r) => r.startsWith('HTTP/1.1 200 OK\r\n') && r.endsWith('slept 200\n')).length).toBe(200);
    // One after another they would take 40 s: they ran at once.
    expect(elapsed).toBeLessThan(5000);
  });

  it('serves other requests while a handler awaits fetch() to this same server', async () => {
    server = await poll(`${pollApps}:selfFetch`);
    const res = await fetch(`${server.url}/outer`);
    expect(await res.text()).toBe('outer got inner\n');
  });

  it('answers garbage with 400 while another connection keeps being served', async () => {
    server = await poll(`${apps}:slow`);
    const s = server;
    let slowDone = 0;
    const slow = Client.connect(s.port).then(async (c) => {
      c.send(get('/?ms=800'));
      const r = await c.read();
      slowDone = Date.now();
      c.close();
      return r;
    });
    await new Promise((r) => setTimeout(r, 100));
    const bad = await rawRequest(s.port, 'GARBAGE\r\n\r\n');
    const badDone = Date.now();
    expect(bad).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(bad).toMatch(/\r\nConnection: close\r\n/);
    const r = await slow;
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('slept 800\n');
    expect(badDone).toBeLessThan(slowDone); // not queued behind the slow request
    expect(s.stderr()).toMatch(/"- - HTTP\/1\.1" 400 /);
  });
});

describe('poll engine: persistent connections', () => {
  it('serves several requests on one keep-alive connection', async () => {
    server = await poll(`${apps}:echo`);
    const c = await Client.connect(server.port);
    const ports = new Set<string>();
    for (let i = 0; i < 5; i++) {
      c.send(get(`/req/${i}`));
      const r = await c.read();
      expect(r.status).toBe(200);
      expect(r.head).not.toMatch(/Connection: close/i);
      const env = JSON.parse(r.body.toString());
      expect(env.path).toBe(`/req/${i}`);
      ports.add(env.remotePort);
    }
    expect(ports.size).toBe(1); // one connection, five requests
    c.close();
  });

  it('answers three pipelined requests in order, even when the first is the slowest', async () => {
    server = await poll(`${apps}:slow`);
    const c = await Client.connect(server.port);
    c.send(get('/?ms=300') + get('/?ms=10') + get('/?ms=100', 'Connection: close\r\n'));
    const bodies = [];
    for (let i = 0; i < 3; i++) bodies.push((await c.read()).body.toString());
    expect(bodies).toEqual(['slept 300\n', 'slept 10\n', 'slept 100\n']);
    expect(await c.closed(2000)).toBe(true); // the last asked to close
  });

  it('closes idle connections after the keep-alive timeout', async () => {
    server = await poll(hello, ['--keep-alive', '1']);
    const c = await Client.connect(server.port);
    c.send(get('/'));
    expect((await c.read()).status).toBe(200);
    const t0 = Date.now();
    expect(await c.closed(4000)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
  });

  it('closes after a response whose app said Connection: close', async () => {
    server = await poll(`${pollApps}:statuses`);
    const c = await Client.connect(server.port);
    c.send(get('/200'));
    expect((await c.read()).head).not.toMatch(/Connection:/i);
    c.send(get('/close'));
    const r = await c.read();
    expect(r.head).toMatch(/\r\nConnection: close\r\n/);
    expect(await c.closed(2000)).toBe(true);
  });

  it('honours Connection: close from the client and HTTP/1.0 without keep-alive', async () => {
    server = await poll(hello);
    const one = await rawRequest(server.port, get('/a', 'Connection: close\r\n'));
    expect(one).toMatch(/\r\nConnection: close\r\n/);
    const ten = await rawRequest(server.port, 'GET /b HTTP/1.0\r\n\r\n');
    expect(ten).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(ten.endsWith('Hello, World! You asked for /b\n')).toBe(true);
  });
});

describe('poll engine: request bodies', () => {
  it('delivers a 1 MiB POST body intact', async () => {
    server = await poll(`${apps}:echo`);
    const body = randomBytes(1 << 20);
    const res = await fetch(server.url, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    const env = await res.json();
    expect(env.length).toBe(1 << 20);
    expect(env.sha256).toBe(sha(body));
  });

  it('decodes a chunked request body sent in pieces', async () => {
    server = await poll(`${apps}:echo`);
    const c = await Client.connect(server.port);
    const parts = [randomBytes(1000), randomBytes(70_000), randomBytes(5)];
    c.send('POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const p of parts) {
      await new Promise((r) => setTimeout(r, 30));
      c.send(Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]));
    }
    c.send('0\r\n\r\n');
    const env = JSON.parse((await c.read()).body.toString());
    expect(env.length).toBe(71_005);
    expect(env.sha256).toBe(sha(Buffer.concat(parts)));
    c.close();
  });

  it('sends 100 Continue before reading the body when asked', async () => {
    server = await poll(`${apps}:echo`);
    const c = await Client.connect(server.port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    const interim = await c.read();
    expect(interim.head).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.send('hello');
    const r = await c.read();
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString()).length).toBe(5);
    c.close();
  });

  it('answers 413 for a body over --max-body without calling the app', async () => {
    server = await poll(`${apps}:echo`, ['--max-body', '1000']);
    const raw = await rawRequest(server.port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`);
    expect(raw).toMatch(/^HTTP\/1\.1 413 Content Too Large\r\n/);
  });
});

describe('poll engine: responses', () => {
  it('streams an iterable body with the chunked coding', async () => {
    server = await poll(`${apps}:stream`);
    const raw = await rawRequest(server.port, get('/', 'Connection: close\r\n'));
    expect(raw).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(raw).toContain('7\r\npart 0\n\r\n');
    expect(raw.endsWith('0\r\n\r\n')).toBe(true);
  });

  it('streams 16 MiB to a slow reader intact (backpressure), then serves the next request', async () => {
    server = await poll(`${pollApps}:bigStream`);
    const c = await Client.connect(server.port);
    c.sock.pause();
    c.send(get('/?mb=16'));
    await new Promise((r) => setTimeout(r, 300)); // the server's output fills up meanwhile
    c.sock.resume();
    const r = await c.read(20_000);
    expect(r.body.length).toBe(16 << 20);
    const want = Buffer.allocUnsafe(16 << 20);
    for (let i = 0; i < want.length; i++) want[i] = i % 251;
    expect(r.body.equals(want)).toBe(true);
    c.send(get('/?mb=0'));
    expect((await c.read()).body.length).toBe(0);
    c.close();
  });

  it('sends no body for HEAD, 204 and 304', async () => {
    server = await poll(`${pollApps}:statuses`);
    const c = await Client.connect(server.port);
    c.send('HEAD /200 HTTP/1.1\r\nHost: x\r\n\r\n' + get('/204') + get('/304') + get('/200'));
    const head = await c.read(5000, true);
    expect(head.head).toMatch(/\r\nContent-Length: 5\r\n/); // what GET would have
    // No body bytes followed: the next bytes are the 204's status line.
    expect((await c.read()).status).toBe(204);
    expect((await c.read()).status).toBe(304);
    const last = await c.read();
    expect(last.body.toString()).toBe('body\n');
    c.close();
  });

  it('serves a Fetch-style app, and answers 500 when the app throws', async () => {
    server = await poll(`${apps}:fetchApp`);
    const res = await fetch(`${server.url}/missing?z=9`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fetch GET /missing?z=9\n');
    await server.stop();
    server = await poll(`${apps}:boom`);
    const bad = await fetch(`${server.url}/fail`);
    expect(bad.status).toBe(500);
    expect(await (await fetch(`${server.url}/ok`)).text()).toBe('fine\n');
  });
});

describe('poll engine: failures', () => {
  it('answers 500 for a response field with CR LF, cuts a stream that fails midway, and keeps serving', async () => {
    server = await poll(`${pollApps}:faulty`);
    const split = await rawRequest(server.port, get('/split', 'Connection: close\r\n'));
    expect(split).toMatch(/^HTTP\/1\.1 500 /);
    expect(split).not.toContain('Injected');
    const midway = await rawRequest(server.port, get('/midway'));
    expect(midway).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(midway).toContain('6\r\nfirst\n\r\n7\r\nsecond\n\r\n');
    expect(midway).not.toContain('0\r\n\r\n'); // no last-chunk: the client sees the body was cut
    expect(await rawRequest(server.port, get('/ok', 'Connection: close\r\n'))).toMatch(/first\n\r\n7\r\nsecond\n\r\n6\r\nthird\n\r\n0\r\n\r\n$/);
    expect(server.stderr()).toMatch(/the stream failed on purpose/);
  });
});

describe('poll engine: timeouts', () => {
  it('answers 408 when the head does not arrive in time, and closes', async () => {
    server = await startFixture(hello, { headersTimeoutMs: 300 });
    const c = await Client.connect(server.port);
    c.send('GET / HTTP/1.1\r\nHost: x\r\n'); // no empty line: the head never ends
    const t0 = Date.now();
    const r = await c.read(3000);
    expect(r.status).toBe(408);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(await c.closed(3000)).toBe(true);
  });

  it('answers 503 to a handler still awaiting past --timeout, and serves the other connections meanwhile', async () => {
    server = await poll(`${apps}:slow`, ['--timeout', '1']);
    const slowOne = fetch(`${server.url}/?ms=4000`);
    expect(await (await fetch(`${server.url}/?ms=10`)).text()).toBe('slept 10\n');
    const res = await slowOne;
    expect(res.status).toBe(503);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.text()).toBe('request timed out (503)\n');
    expect(server.stderr()).toMatch(/Request timed out \(--timeout 1 s\): GET \/\?ms=4000: answered 503/);
    // The late answer of the timed-out handler (its timer fires 4 s after the request) is dropped:
    // no second response, no access line for it, no error; the server goes on.
    const since = Date.now(); // about 1 s after the slow request
    await until('the slow handler to have answered late', () => Date.now() - since > 3500, 5000, 100);
    expect(await (await fetch(`${server.url}/?ms=1`)).text()).toBe('slept 1\n');
    const lines = server.stderr().split('\n').filter((l) => l.includes('"GET /?ms=4000 HTTP/1.1"'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/" 503 /);
    expect(server.stderr()).not.toMatch(/Error (handling|writing)|ERR_INVALID_STATE/);
  });

  it('answers 408 when a body stalls', async () => {
    server = await startFixture(`${apps}:echo`, { headersTimeoutMs: 300 });
    const c = await Client.connect(server.port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    expect((await c.read(3000)).status).toBe(408);
  });
});

describe('poll engine: stopping', () => {
  it('SIGTERM finishes an in-flight request, closes idle connections after the 1 s drain, and exits 0', async () => {
    server = await poll(`${apps}:slow`);
    const s = server;
    const idle = await Client.connect(s.port);
    idle.send(get('/?ms=0'));
    await idle.read();
    const busy = await Client.connect(s.port);
    busy.send(get('/?ms=800'));
    await new Promise((r) => setTimeout(r, 200));
    const exited = s.stop('SIGTERM');
    // Closed after the stop's 1 s for one more request (native/engine/stop.h), long before the 5 s keep-alive.
    expect(await idle.closed(3000)).toBe(true);
    const r = await busy.read(5000);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('slept 800\n');
    expect(r.head).toMatch(/\r\nConnection: close\r\n/);
    expect(await exited).toBe(0);
    expect(s.stderr()).toMatch(/Stopped by SIGTERM/);
  });

  it('SIGINT closes every connection now, busy or idle', async () => {
    server = await poll(`${apps}:slow`);
    const s = server;
    const idle = await Client.connect(s.port);
    const busy = await Client.connect(s.port);
    busy.send(get('/?ms=1500'));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const exited = s.stop('SIGINT');
    expect(await busy.closed(1000)).toBe(true);
    expect(await idle.closed(1000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
    // The process ends once the app's own timer has run (its answer goes nowhere).
    expect(await exited).toBe(0);
    expect(s.stderr()).toMatch(/Stopped by SIGINT/);
    expect(s.stderr()).not.toMatch(/ERROR/);
  });
});

describe('poll engine: descriptors', () => {
  it('leaks no descriptor over 1,000 requests', async () => {
    server = await poll(hello, ['--no-access-log']);
    const s = server;
    // Warm up the client side and let the server settle before counting.
    await rawRequest(s.port, get('/warm', 'Connection: close\r\n'));
    const before = fdCount(s.pid);
    let ok = 0;
    // 500 on fresh connections, 500 on 10 keep-alive connections, a few bad ones.
    for (let i = 0; i < 500; i++) {
      const r = await rawRequest(s.port, get(`/c/${i}`, 'Connection: close\r\n'));
      if (r.endsWith(`Hello, World! You asked for /c/${i}\n`)) ok++;
    }
    await Promise.all(
      Array.from({ length: 10 }, async (_, k) => {
        const c = await Client.connect(s.port);
        for (let i = 0; i < 50; i++) {
          c.send(get(`/k/${k}/${i}`));
          if ((await c.read()).body.toString() === `Hello, World! You asked for /k/${k}/${i}\n`) ok++;
        }
        c.close();
      }),
    );
    for (let i = 0; i < 5; i++) await rawRequest(s.port, 'BAD\r\n\r\n');
    expect(ok).toBe(1000);
    expect(await waitFor(() => fdCount(s.pid) === before, 5000)).toBe(true);
  });
});
