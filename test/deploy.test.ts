// Listeners a deployment uses: a socket systemd passes (the real
// systemd-socket-activate, which passes the descriptor as systemd does),
// with READY=1/STOPPING=1 on NOTIFY_SOCKET; unix:PATH (also behind nginx);
// fd://N; --pid FILE.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AF_INET, AF_UNIX, MSG_DONTWAIT, SOCK_DGRAM, SOCK_STREAM, bind, close, listen, recv, socket } from '../src/posix.js';
import { startNginx } from './helpers/nginx.js';
import { CLI, FIXTURES, ROOT, waitFor } from './helpers/server.js';

const run = promisify(execFile);
const linux = process.platform === 'linux';
const APP = `${FIXTURES}/apps.ts:echo`;
const have = (cmd: string) => ['/usr/bin', '/usr/sbin', '/bin', '/sbin'].some((d) => fs.existsSync(path.join(d, cmd)));

let dir = '';
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-deploy-'));
  fs.chmodSync(dir, 0o755); // nginx's workers (another user) reach the socket through it
});
afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A process whose stderr is kept, stopped (SIGTERM, bounded) at the end. */
function start(cmd: string, args: string[], opts: Parameters<typeof spawn>[2] = {}) {
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  proc.stdout!.on('data', () => {});
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
  return {
    proc, exited, stderr: () => err,
    async stop(): Promise<number | string | null> {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** curl with its arguments; returns the body (throws if curl fails). */
async function curl(args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['-s', '-f', '--max-time', '10', ...args]);
  return stdout;
}

/** An AF_UNIX datagram socket bound at a path, read without blocking: what systemd listens on for sd_notify. */
function notifySocket(file: string) {
  const fd = socket(AF_UNIX, SOCK_DGRAM);
  bind(fd, file);
  const got: string[] = [];
  const buf = Buffer.alloc(4096);
  return {
    /** Datagrams received so far. */
    messages(): string[] {
      for (;;) {
        try {
          got.push(buf.subarray(0, recv(fd, buf, MSG_DONTWAIT)).toString());
        } catch {
          return got; // EAGAIN: nothing more now
        }
      }
    },
    close: () => close(fd),
  };
}

const ENGINES = ['iterative', 'fork', 'prefork', 'poll', 'node'] as const;
const engineArgs = (engine: string) => ['-k', engine, ...(engine === 'prefork' ? ['-w', '1'] : [])];

describe.skipIf(!linux || !have('systemd-socket-activate'))('systemd socket activation (systemd-socket-activate)', () => {
  it.each(['fork', 'prefork', 'poll'] as const)('%s: serves the inherited socket and says READY=1, then STOPPING=1, on NOTIFY_SOCKET', async (engine) => {
    const port = await freePort();
    const notifyPath = path.join(dir, `notify-${engine}.sock`);
    const notify = notifySocket(notifyPath);
    const server = start('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '-E', 'NOTIFY_SOCKET',
      process.execPath, CLI, APP, ...engineArgs(engine), '--no-access-log'], { env: { ...process.env, NOTIFY_SOCKET: notifyPath } });
    try {
      // systemd-socket-activate starts the service on the first connection, as a socket unit does.
      expect(await waitFor(() => server.stderr().includes(`Listening on 127.0.0.1:${port}`), 10_000)).toBe(true);
      const body = JSON.parse(await curl([`http://127.0.0.1:${port}/activated`]));
      expect(body.path).toBe('/activated');
      expect(server.stderr()).toMatch(new RegExp(`Listening at: http://127\\.0\\.0\\.1:${port} \\(\\d+\\) \\(socket from systemd, fd 3\\)`));
      const ready = await waitFor(() => notify.messages().find((m) => m.startsWith('READY=1')), 10_000);
      expect(ready).toMatch(/^READY=1\nMAINPID=\d+$/);
      expect(Number(/MAINPID=(\d+)/.exec(ready!)![1])).toBe(server.proc.pid); // exec'd in place: the pid systemd started
      expect(await server.stop()).toBe(0);
      expect(notify.messages()).toContain('STOPPING=1');
    } finally {
      notify.close();
      await server.stop();
    }
  });

  it.each(['fork', 'poll'] as const)('%s: two sockets (two ListenStream=) are both served', async (engine) => {
    const [a, b] = [await freePort(), await freePort()];
    const server = start('systemd-socket-activate', ['-l', `127.0.0.1:${a}`, '-l', `127.0.0.1:${b}`, process.execPath, CLI, APP, '-k', engine, '--no-access-log']);
    try {
      expect(await waitFor(() => server.stderr().includes(`Listening on 127.0.0.1:${b}`), 10_000)).toBe(true);
      expect(JSON.parse(await curl([`http://127.0.0.1:${a}/first`])).path).toBe('/first');
      expect(JSON.parse(await curl([`http://127.0.0.1:${b}/second`])).path).toBe('/second');
      expect(server.stderr()).toMatch(/\(socket from systemd, fd 3\)[\s\S]*\(socket from systemd, fd 4\)/);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!linux).each(ENGINES)('--bind repeated on the %s engine', (engine) => {
  it('serves TCP on IPv4, TCP on IPv6 loopback and a unix socket at once, each request with its socket\'s SERVER_PORT', async () => {
    const [p4, p6] = [await freePort(), await freePort()];
    const sock = path.join(dir, `multi-${engine}.sock`);
    const server = start(process.execPath, [CLI, APP, '-b', `127.0.0.1:${p4}`, '-b', `[::1]:${p6}`, '-b', `unix:${sock}`, ...engineArgs(engine), '--no-access-log']);
    try {
      expect(await waitFor(() => (server.stderr().match(/Listening at/g) ?? []).length === 3, 15_000), server.stderr()).toBe(true);
      for (let round = 0; round < 3; round++) {
        // SERVER_PORT is the port of the socket the request came on (PEP 3333): 0 for AF_UNIX.
        expect(JSON.parse(await curl([`http://127.0.0.1:${p4}/v4/${round}`]))).toMatchObject({ path: `/v4/${round}`, serverPort: String(p4) });
        expect(JSON.parse(await curl([`http://[::1]:${p6}/v6/${round}`]))).toMatchObject({ path: `/v6/${round}`, serverPort: String(p6) });
        expect(JSON.parse(await curl(['--unix-socket', sock, `http://localhost/unix/${round}`]))).toMatchObject({ path: `/unix/${round}`, serverPort: '0' });
      }
      expect(await server.stop()).toBe(0);
      expect(fs.existsSync(sock)).toBe(false);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!linux).each(ENGINES)('--bind unix:PATH on the %s engine', (engine) => {
  it('serves curl --unix-socket, with mode 0666, and removes the socket file and --pid file at exit', async () => {
    const sock = path.join(dir, `${engine}.sock`);
    const pidFile = path.join(dir, `${engine}.pid`);
    const server = start(process.execPath, [CLI, APP, '--bind', `unix:${sock}`, '--pid', pidFile, ...engineArgs(engine), '--no-access-log']);
    try {
      await waitFor(() => server.stderr().includes(`Listening at: unix:${sock}`), 15_000);
      const body = JSON.parse(await curl(['--unix-socket', sock, 'http://localhost/over/unix?x=1']));
      expect(body).toMatchObject({ path: '/over/unix', query: 'x=1', host: 'localhost' });
      expect(fs.statSync(sock).isSocket()).toBe(true);
      expect(fs.statSync(sock).mode & 0o777).toBe(0o666);
      expect(Number(fs.readFileSync(pidFile, 'utf8'))).toBe(server.proc.pid);
      expect(await server.stop()).toBe(0);
      expect(fs.existsSync(sock)).toBe(false);
      expect(fs.existsSync(pidFile)).toBe(false);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!linux)('unix:PATH: what is already there', () => {
  it('a stale socket file (no server behind it) is replaced', async () => {
    const sock = path.join(dir, 'stale.sock');
    const fd = socket(AF_UNIX, SOCK_STREAM);
    bind(fd, sock);
    close(fd); // the file stays, nobody listens
    const server = start(process.execPath, [CLI, APP, '--bind', `unix:${sock}`, '-k', 'poll']);
    try {
      await waitFor(() => server.stderr().includes('Listening at'), 15_000);
      expect(JSON.parse(await curl(['--unix-socket', sock, 'http://localhost/x'])).path).toBe('/x');
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['a live server', 'another server is listening on it'],
    ['a regular file', 'the path exists and is not a socket'],
  ])('%s at the path: one sentence, exit 1, and the path left alone', async (what, sentence) => {
    const sock = path.join(dir, `taken-${what.replace(/ /g, '-')}.sock`);
    let first: ReturnType<typeof start> | undefined;
    if (what === 'a live server') {
      first = start(process.execPath, [CLI, APP, '--bind', `unix:${sock}`, '-k', 'poll']);
      await waitFor(() => first!.stderr().includes('Listening at'), 15_000);
    } else {
      fs.writeFileSync(sock, 'not a socket');
    }
    try {
      const second = await run(process.execPath, [CLI, APP, '--bind', `unix:${sock}`, '-k', 'poll']).then(() => ({ code: 0, stderr: '' }), (e) => e);
      expect(second.code).toBe(1);
      expect(second.stderr).toContain(`Cannot listen on unix:${sock}: ${sentence}`);
      expect(second.stderr.trim().split('\n')).toHaveLength(1);
      expect(fs.existsSync(sock)).toBe(true);
      if (first) expect(JSON.parse(await curl(['--unix-socket', sock, 'http://localhost/still'])).path).toBe('/still');
    } finally {
      await first?.stop();
      fs.rmSync(sock, { force: true });
    }
  });
});

describe.skipIf(!linux)('--bind fd://N', () => {
  it.each(['fork', 'poll'] as const)('%s: serves a listening socket it inherited on descriptor 3', async (engine) => {
    const fd = socket(AF_INET, SOCK_STREAM);
    const port = await freePort();
    bind(fd, '127.0.0.1', port);
    listen(fd, 16);
    let server: ReturnType<typeof start> | undefined;
    try {
      server = start(process.execPath, [CLI, APP, '--bind', 'fd://3', ...engineArgs(engine)], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      await waitFor(() => server!.stderr().includes(`Listening at: http://127.0.0.1:${port}`), 15_000);
      expect(JSON.parse(await curl([`http://127.0.0.1:${port}/inherited`])).path).toBe('/inherited');
    } finally {
      close(fd);
      await server?.stop();
    }
  });

  it('a descriptor that is not a socket: one sentence, exit 1', async () => {
    const r = await run(process.execPath, [CLI, APP, '--bind', 'fd://900']).then(() => ({ code: 0, stderr: '' }), (e) => e);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Cannot serve --bind fd:\/\/900: descriptor 900 is not an open socket \(EBADF\)/);
  });
});

describe.skipIf(!linux)('--reuse-port', () => {
  it('two servers listen on one address and both get connections; without it the second is refused', async () => {
    const port = await freePort();
    const args = (extra: string[]) => [CLI, APP, '--bind', `127.0.0.1:${port}`, '-k', 'poll', '--no-access-log', ...extra];
    const a = start(process.execPath, args(['--reuse-port']));
    const b = start(process.execPath, args(['--reuse-port']));
    try {
      await waitFor(() => a.stderr().includes('Listening at') && b.stderr().includes('Listening at'), 15_000);
      const pids = new Set<number>();
      for (let i = 0; i < 200 && pids.size < 2; i++) pids.add(JSON.parse(await curl([`http://127.0.0.1:${port}/r${i}`])).pid);
      expect([...pids].sort()).toEqual([a.proc.pid, b.proc.pid].sort());
      const refused = await run(process.execPath, args([])).then(() => ({ code: 0, stderr: '' }), (e) => e);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('the address is already in use (EADDRINUSE)');
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe.skipIf(!linux || !have('nginx'))('nginx in front, over a unix socket', () => {
  let nginx: ReturnType<typeof startNginx> | undefined;
  it('proxies to forkserve on unix:PATH (proxy_pass http://unix:...)', async () => {
    const sock = path.join(dir, 'behind-nginx.sock');
    const port = await freePort();
    const server = start(process.execPath, [CLI, APP, '--bind', `unix:${sock}`, '-k', 'poll', '--no-access-log']);
    try {
      await waitFor(() => server.stderr().includes('Listening at'), 15_000);
      nginx = startNginx(dir, 'nginx-unix', `
  upstream app { server unix:${sock}; keepalive 4; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }`);
      // Ready once it answers (nginx has no readiness line of its own), bounded.
      let body: Record<string, unknown> | undefined;
      for (let i = 0; i < 200 && !body; i++) {
        body = await curl([`http://127.0.0.1:${port}/via/nginx?q=1`]).then((b) => JSON.parse(b), () => undefined);
        if (!body) await new Promise((r) => setTimeout(r, 50));
      }
      expect(body).toMatchObject({ path: '/via/nginx', query: 'q=1', host: '127.0.0.1' });
      for (let i = 0; i < 20; i++) expect(JSON.parse(await curl([`http://127.0.0.1:${port}/n${i}`])).path).toBe(`/n${i}`);
    } finally {
      nginx?.stop();
      await server.stop();
    }
  });
});
