// Static files (--static, serveStatic): what curl, a raw socket and
// headless Chromium see, on every engine. The tree is made at run time in
// a temporary directory: symlinks out of the root, a FIFO, a secret beside
// the root, precompressed siblings, a 1 GiB sparse file.
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childPids, FIXTURES, rawRequest, ROOT, startServer, waitFor, type RunningServer } from './helpers/server.js';

const run = promisify(execFile);
const linux = process.platform === 'linux';
const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

let base = '';
let pub = '';
const DATA = crypto.randomBytes(100_000);
const CSS = 'body { background: rgb(0, 128, 0); }\n#msg { color: rgb(255, 0, 0); }\n';

/** A 4x4 opaque PNG, made with zlib (no binary fixture in the repository). */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(4, 0);
  ihdr.writeUInt32BE(4, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  // Each row: filter type 0, then 4 blue RGB pixels.
  const rows = Buffer.concat(Array.from({ length: 4 }, () => Buffer.from([0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 255])));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-static-'));
  pub = path.join(base, 'pub');
  fs.mkdirSync(path.join(pub, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(base, 'secret.txt'), SECRET);
  fs.writeFileSync(path.join(pub, 'index.html'), '<!DOCTYPE html><html><head><title>static</title><link rel="stylesheet" href="style.css">'
    + '<script src="app.js" defer></script></head><body><p id="msg">waiting</p><img id="pic" src="pixel.png" width="64" height="64"></body></html>\n');
  fs.writeFileSync(path.join(pub, 'style.css'), CSS);
  fs.writeFileSync(path.join(pub, 'style.css.gz'), zlib.gzipSync(CSS));
  fs.writeFileSync(path.join(pub, 'style.css.br'), zlib.brotliCompressSync(CSS));
  fs.writeFileSync(path.join(pub, 'app.js'), "document.getElementById('msg').textContent = 'script ran';\n");
  fs.writeFileSync(path.join(pub, 'pixel.png'), png());
  fs.writeFileSync(path.join(pub, 'sub', 'data.bin'), DATA);
  fs.writeFileSync(path.join(pub, '.env'), SECRET);
  fs.symlinkSync('../secret.txt', path.join(pub, 'link-out.txt'));
  fs.symlinkSync('..', path.join(pub, 'dir-out'));
  if (linux) fs.writeFileSync(path.join(pub, 'sub', 'inside.txt'), 'inside\n');
  spawn('mkfifo', [path.join(pub, 'fifo')]).on('error', () => {});
});

afterAll(() => {
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

/** Starts `forkserve --static=DIR ...args` (or with an app). */
function startStatic(args: string[], app?: string): Promise<RunningServer> {
  return app ? startServer(app, [`--static=${args[0]}`, ...args.slice(1)]) : startServer(`--static=${args[0]}`, args.slice(1));
}

interface CurlResult { status: number; headers: Record<string, string>; body: Buffer }

/** curl -s -i ARGS URL: the status, the (last) header section by lower-case name, the body. */
async function curl(url: string, args: string[] = []): Promise<CurlResult> {
  const { stdout } = await run('curl', ['-s', '-i', '--max-time', '10', ...args, url], { encoding: 'buffer', maxBuffer: 64 << 20 });
  const out = stdout as unknown as Buffer;
  const end = out.indexOf('\r\n\r\n');
  const head = out.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(head[0].split(' ')[1]), headers, body: out.subarray(end + 4) };
}

const ENGINES = ['iterative', 'fork', 'prefork', 'poll', 'node'] as const;
const engineArgs = (engine: string) => ['-k', engine, ...(engine === 'prefork' ? ['-w', '1'] : [])];

describe.skipIf(!linux).each(ENGINES)('--static on the %s engine', (engine) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startStatic([pub, ...engineArgs(engine), '--no-access-log']);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('GET serves the file with its type, length and validators', async () => {
    const r = await curl(`${server.url}/style.css`);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(CSS);
    expect(r.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(r.headers['content-length']).toBe(String(CSS.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/); // strong: no W/
    expect(new Date(r.headers['last-modified']).getTime()).toBe(Math.floor(fs.statSync(path.join(pub, 'style.css')).mtimeMs / 1000) * 1000);
    const png = await curl(`${server.url}/pixel.png`);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.body.subarray(1, 4).toString()).toBe('PNG');
  });

  it('curl -r 0-99 gets 206 with Content-Range and exactly those bytes', async () => {
    const r = await curl(`${server.url}/sub/data.bin`, ['-r', '0-99']);
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 0-99/${DATA.length}`);
    expect(r.body.equals(DATA.subarray(0, 100))).toBe(true);
    const tail = await curl(`${server.url}/sub/data.bin`, ['-r', '-10']);
    expect(tail.headers['content-range']).toBe(`bytes ${DATA.length - 10}-${DATA.length - 1}/${DATA.length}`);
    expect(tail.body.equals(DATA.subarray(DATA.length - 10))).toBe(true);
  });

  it('an unsatisfiable range gets 416 with Content-Range: bytes */SIZE', async () => {
    const r = await curl(`${server.url}/sub/data.bin`, ['-r', '200000-300000']);
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${DATA.length}`);
  });

  it('curl -z (If-Modified-Since) and If-None-Match get 304; a changed validator gets the file', async () => {
    const first = await curl(`${server.url}/style.css`);
    const z = await curl(`${server.url}/style.css`, ['-z', first.headers['last-modified']]);
    expect(z.status).toBe(304);
    expect(z.body.length).toBe(0);
    expect(z.headers.etag).toBe(first.headers.etag);
    const inm = await curl(`${server.url}/style.css`, ['-H', `If-None-Match: ${first.headers.etag}`]);
    expect(inm.status).toBe(304);
    const other = await curl(`${server.url}/style.css`, ['-H', 'If-None-Match: "other"']);
    expect(other.status).toBe(200);
    expect(other.body.toString()).toBe(CSS);
  });

  it('If-Match and If-Unmodified-Since get 412; If-Range decides whether Range applies', async () => {
    const first = await curl(`${server.url}/sub/data.bin`);
    expect((await curl(`${server.url}/sub/data.bin`, ['-H', 'If-Match: "nope"'])).status).toBe(412);
    expect((await curl(`${server.url}/sub/data.bin`, ['-H', `If-Match: ${first.headers.etag}`])).status).toBe(200);
    expect((await curl(`${server.url}/sub/data.bin`, ['-H', 'If-Unmodified-Since: Thu, 01 Jan 1998 00:00:00 GMT'])).status).toBe(412);
    const matching = await curl(`${server.url}/sub/data.bin`, ['-r', '0-9', '-H', `If-Range: ${first.headers.etag}`]);
    expect(matching.status).toBe(206);
    const stale = await curl(`${server.url}/sub/data.bin`, ['-r', '0-9', '-H', 'If-Range: "stale"']);
    expect(stale.status).toBe(200);
    expect(stale.body.equals(DATA)).toBe(true);
  });

  it('HEAD has the GET header section and no body', async () => {
    const get = await curl(`${server.url}/sub/data.bin`);
    const head = await curl(`${server.url}/sub/data.bin`, ['-I']);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(DATA.length));
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.body.length).toBe(0);
  });

  it('a directory: 301 adds the slash, index.html is served, no listing by default; other methods get 405 with Allow', async () => {
    const redirect = await curl(`${server.url}/sub?x=1`);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/sub/?x=1');
    const index = await curl(`${server.url}/`);
    expect(index.status).toBe(200);
    expect(index.body.toString()).toContain('<p id="msg">');
    expect((await curl(`${server.url}/sub/`)).status).toBe(404);
    const post = await curl(`${server.url}/style.css`, ['-X', 'POST', '-d', 'x']);
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('a precompressed sibling is sent when Accept-Encoding allows it, with Vary', async () => {
    const br = await curl(`${server.url}/style.css`, ['-H', 'Accept-Encoding: gzip, br']);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(zlib.brotliDecompressSync(br.body).toString()).toBe(CSS);
    const gz = await curl(`${server.url}/style.css`, ['-H', 'Accept-Encoding: gzip']);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body).toString()).toBe(CSS);
    expect(gz.headers.etag).not.toBe(br.headers.etag); // each representation has its own strong validator
    const identity = await curl(`${server.url}/style.css`);
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.headers.vary).toBe('Accept-Encoding');
  });

  // Every way out of the root: the status, and never a byte of what lies outside.
  const TRAVERSALS: Array<[string, number[]]> = [
    ['/../secret.txt', [400]],
    ['/sub/../../secret.txt', [400]],
    ['/%2e%2e/secret.txt', [400]],
    ['/%2E%2E/secret.txt', [400]],
    ['/.%2e/secret.txt', [400]],
    ['/sub/..%2f..%2fsecret.txt', [400]],
    ['/%2e%2e%2fsecret.txt', [400]],
    ['/..%5csecret.txt', [400]],
    ['/..\\secret.txt', [400]],
    ['/%252e%252e/secret.txt', [404]],
    ['/%25252e%25252e/secret.txt', [404]],
    ['/style.css%00.png', [400]],
    ['/%00', [400]],
    ['/%zz', [400]],
    ['http://127.0.0.1/../secret.txt', [400]],
    ['http://127.0.0.1/%2e%2e/secret.txt', [400]],
    ['/link-out.txt', [403]],
    ['/dir-out/secret.txt', [403]],
    ['/.env', [404]],
    ['/sub/.%65nv', [404]],
    ['/fifo', [403]],
    [`/${'a/'.repeat(1500)}x`, [404, 414]],
    [`/${'b'.repeat(300)}`, [404]],
    ['*', [400]],
  ];
  it.each(TRAVERSALS)('%s stays inside the root', async (target, statuses) => {
    const res = await rawRequest(server.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    const status = Number(res.split(' ')[1]);
    expect(statuses, res.slice(0, 200)).toContain(status);
    expect(res).not.toContain(SECRET);
  });

  it('the server goes on serving after all of it', async () => {
    expect((await curl(`${server.url}/style.css`)).status).toBe(200);
  });
});

describe.skipIf(!linux)('--static options', () => {
  it('--static-listing lists a directory without index.html; --static-follow-symlinks and --static-dotfiles open what is refused by default', async () => {
    const server = await startStatic([pub, '-k', 'poll', '--static-listing', '--static-follow-symlinks', '--static-dotfiles', '--static-cache-control', 'public, max-age=60']);
    try {
      const list = await curl(`${server.url}/sub/`);
      expect(list.status).toBe(200);
      expect(list.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(list.body.toString()).toContain('<a href="data.bin">data.bin</a>');
      const link = await curl(`${server.url}/link-out.txt`);
      expect(link.status).toBe(200);
      expect(link.body.toString()).toBe(SECRET);
      expect((await curl(`${server.url}/.env`)).status).toBe(200);
      expect((await curl(`${server.url}/style.css`)).headers['cache-control']).toBe('public, max-age=60');
      expect((await curl(`${server.url}/%2e%2e/secret.txt`)).status).toBe(400); // never by name
    } finally {
      await server.stop();
    }
  });

  it('a missing directory is one sentence and exit status 2', async () => {
    const r = await run(process.execPath, [path.join(ROOT, 'bin/forkserve.js'), '--static', path.join(base, 'nope')]).then(() => ({ code: 0, stderr: '' }), (e) => e);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--static .*nope: no such directory/);
  });
});

describe.skipIf(!linux).each(['fork', 'poll'] as const)('--static /assets=DIR beside an app on the %s engine', (engine) => {
  it.each([
    ['a WSGI app', `${FIXTURES}/apps.ts:echo`, (b: string) => JSON.parse(b).path as string],
    ['a Fetch app', `${FIXTURES}/apps.ts:fetchApp`, (b: string) => b.split(' ')[2]?.trim()],
    ['an Express app', `${FIXTURES}/frameworks/express.ts`, (b: string) => b],
  ])('%s gets every request the files do not answer', async (_name, app, pathOf) => {
    const server = await startServer(app, ['--static', `/assets=${pub}`, '-k', engine, '--no-access-log']);
    try {
      const file = await curl(`${server.url}/assets/style.css`);
      expect(file.body.toString()).toBe(CSS);
      expect(file.headers.etag).toBeDefined();
      const missing = await curl(`${server.url}/assets/missing.css`);
      const elsewhere = await curl(`${server.url}/hello/static`);
      if (app.includes('express')) {
        expect(missing.status).toBe(404); // Express's own 404
        expect(missing.body.toString()).toContain('Cannot GET /assets/missing.css');
        expect(elsewhere.body.toString()).toBe('Hello, static! (express)');
      } else {
        expect(pathOf(missing.body.toString())).toBe('/assets/missing.css');
        expect(pathOf(elsewhere.body.toString())).toBe('/hello/static');
      }
      expect((await curl(`${server.url}/assets/%2e%2e/secret.txt`)).status).toBe(400); // refused, not passed on
    } finally {
      await server.stop();
    }
  });
});

/** VmHWM (peak resident set) of pid, in KiB. */
function peakRssKiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Opens a connection, sends a GET, and reads nothing until resume() is called. */
function stalledGet(port: number, target: string) {
  const sock = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let head = '';
  let bodyBytes = 0;
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  sock.on('error', () => {});
  const gotHead = new Promise<void>((resolve) => {
    sock.on('data', (d: Buffer) => {
      if (!head) {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) return;
        head = all.subarray(0, end).toString('latin1');
        bodyBytes = all.length - end - 4;
        sock.pause();
        resolve();
      } else {
        bodyBytes += d.length;
      }
    });
  });
  sock.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  return {
    gotHead, closed,
    head: () => head,
    contentLength: () => Number(/content-length: (\d+)/i.exec(head)?.[1]),
    bodyBytes: () => bodyBytes,
    resume: () => sock.resume(),
    destroy: () => sock.destroy(),
  };
}

describe.skipIf(!linux)('large and changing files', () => {
  let big = '';
  beforeAll(() => {
    big = path.join(pub, 'big.bin');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, 2 ** 30); // sparse: 1 GiB, no disk used
  });
  afterAll(() => fs.rmSync(big, { force: true }));

  it.each(['poll', 'prefork'] as const)('%s: a 1 GiB file is downloaded whole, checksum equal, with the server\'s peak RSS flat', async (engine) => {
    const server = await startStatic([pub, ...engineArgs(engine), '--no-access-log']);
    try {
      // The serving process: the poll engine's only one, or the prefork worker.
      const pid = engine === 'poll' ? server.pid : (await waitFor(() => childPids(server.pid)[0], 10_000))!;
      await curl(`${server.url}/style.css`); // warm: the first request's allocations are not the file's
      const before = peakRssKiB(pid);
      const { stdout } = await run('sh', ['-c', `curl -s --max-time 120 ${server.url}/big.bin | sha256sum`], { timeout: 150_000 });
      const expected = crypto.createHash('sha256');
      const zeros = Buffer.alloc(1 << 20);
      for (let i = 0; i < 1024; i++) expected.update(zeros);
      expect(stdout.split(' ')[0]).toBe(expected.digest('hex'));
      const grown = peakRssKiB(pid) - before;
      expect(grown, `peak RSS grew by ${grown} KiB while 1 GiB was sent`).toBeLessThan(16 * 1024);
    } finally {
      await server.stop();
    }
  }, 180_000);

  it('poll: a download the client is not reading does not hold up other connections', async () => {
    const server = await startStatic([pub, '-k', 'poll', '--no-access-log']);
    const stalled = stalledGet(server.port, '/big.bin');
    try {
      await stalled.gotHead;
      expect(stalled.contentLength()).toBe(2 ** 30);
      for (let i = 0; i < 5; i++) expect((await curl(`${server.url}/sub/data.bin`)).body.equals(DATA)).toBe(true);
    } finally {
      stalled.destroy();
      await server.stop();
    }
  });

  it.each(['fork', 'poll'] as const)('%s: a file truncated or rewritten during the transfer ends with the connection closed short of its Content-Length', async (engine) => {
    const server = await startStatic([pub, ...engineArgs(engine), '--no-access-log']);
    try {
      for (const change of ['truncate', 'rewrite'] as const) {
        const file = path.join(pub, `changing-${change}.bin`);
        const size = 64 << 20; // more than the socket buffers hold
        fs.writeFileSync(file, Buffer.alloc(size, 0x61));
        const get = stalledGet(server.port, `/changing-${change}.bin`);
        await get.gotHead;
        expect(get.contentLength()).toBe(size);
        if (change === 'truncate') {
          fs.truncateSync(file, 1 << 20);
        } else {
          const fd = fs.openSync(file, 'r+');
          fs.writeSync(fd, Buffer.from('b'), 0, 1, size - 1); // the same length, another version
          fs.closeSync(fd);
          fs.utimesSync(file, new Date(), new Date(Date.now() + 5000)); // the mtime a coarse clock might not move
        }
        get.resume();
        await get.closed;
        expect(get.bodyBytes(), `${change}: received ${get.bodyBytes()} of ${size}`).toBeLessThan(size);
        fs.rmSync(file);
      }
      expect((await curl(`${server.url}/style.css`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});

const haveStrace = fs.existsSync('/usr/bin/strace');
describe.skipIf(!linux || !haveStrace)('sendfile(2), not read(2)', () => {
  it.each(['poll', 'fork'] as const)('%s: strace shows sendfile and no read of the file', async (engine) => {
    const server = await startStatic([pub, ...engineArgs(engine), '--no-access-log']);
    const out = path.join(base, `strace-${engine}.txt`);
    const tracer = spawn('strace', ['-f', '-y', '-e', 'trace=read,pread64,readv,sendfile', '-o', out, '-p', String(server.pid)], { stdio: 'ignore' });
    try {
      // Attached once the kernel names a tracer for the process.
      const tracerPid = () => Number(/TracerPid:\s+(\d+)/.exec(fs.readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0);
      expect(await waitFor(() => tracerPid() > 0, 10_000)).toBe(true);
      const r = await curl(`${server.url}/sub/data.bin`);
      expect(r.body.equals(DATA)).toBe(true);
      const trace = await waitFor(() => {
        const t = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
        return /sendfile\(\d+<(socket|TCP)[^\n]*, \d+<\/[^>\n]*data\.bin>/.test(t) ? t : '';
      }, 5000);
      expect(trace, 'a sendfile of data.bin to the socket in the trace').toMatch(/sendfile\(/);
      expect(trace).not.toMatch(/(read|pread64|readv)\(\d+<\/[^>\n]*data\.bin>/);
    } finally {
      tracer.kill('SIGINT');
      await server.stop();
    }
  });
});

describe.skipIf(!linux || !fs.existsSync(CHROMIUM))(`a page from --static in Chromium (${CHROMIUM})`, () => {
  it('loads its CSS, script and image, and renders them', async () => {
    const server = await startStatic([pub, '-k', 'poll', '--no-access-log']);
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-chromium-'));
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM, headless: true, timeout: 20_000, viewport: { width: 800, height: 600 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await context.newPage();
      const statuses: Record<string, number> = {};
      page.on('response', (res) => { statuses[new URL(res.url()).pathname] = res.status(); });
      await page.goto(`${server.url}/`, { waitUntil: 'load' });
      await page.waitForFunction(() => document.getElementById('msg')?.textContent === 'script ran');
      expect(statuses).toMatchObject({ '/': 200, '/style.css': 200, '/app.js': 200, '/pixel.png': 200 });
      expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(0, 128, 0)');
      expect(await page.evaluate(() => getComputedStyle(document.getElementById('msg')!).color)).toBe('rgb(255, 0, 0)');
      expect(await page.evaluate(() => (document.getElementById('pic') as HTMLImageElement).naturalWidth)).toBe(4);
      await page.screenshot({ path: path.join(ARTIFACTS, 'static-page.png') });
      expect(fs.statSync(path.join(ARTIFACTS, 'static-page.png')).size).toBeGreaterThan(0);
    } finally {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
      await server.stop();
    }
  });
});
