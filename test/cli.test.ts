/**
 * The errors a user meets first, as the forkserve command reports them: one
 * line on stderr saying what happened and what to do, and the exit status
 * `forkserve --help` documents (2 for a usage error, 1 for a runtime
 * failure). Also the process titles that tell a master from its workers.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, ROOT, childPids, startServer, waitFor, type RunningServer } from './helpers/server.js';

const execFileP = promisify(execFile);

/** Runs the CLI to completion (bounded); resolves with its status and output. */
async function cli(args: string[], options: { uid?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const cmd = options.uid === undefined ? process.execPath : 'setpriv';
  const argv = options.uid === undefined ? [CLI, ...args]
    : [`--reuid=${options.uid}`, `--regid=${options.uid}`, '--clear-groups', '--inh-caps=-all', process.execPath, CLI, ...args];
  try {
    const { stdout, stderr } = await execFileP(cmd, argv, { cwd: ROOT, timeout: 20_000 });
    return { status: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number | null; stdout: string; stderr: string };
    return { status: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const fixture = (name: string) => path.relative(ROOT, path.join(FIXTURES, 'cli', name));

describe('forkserve command errors', () => {
  it('--version prints the package version and exits 0', async () => {
    const r = await cli(['--version']);
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(r).toMatchObject({ status: 0, stdout: `forkserve ${version}\n` });
  });

  it('EADDRINUSE names the address and says what to do, exit 1', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    try {
      const r = await cli(['examples/hello.ts', '--bind', `127.0.0.1:${port}`]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`forkserve: Cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE). Stop the server that holds it, or choose another port with --bind\n`);
    } finally {
      holder.close();
    }
  });

  it('EACCES on a port below 1024 says why and what to do, exit 1', async () => {
    const r = await cli(['examples/hello.ts', '--bind', '127.0.0.1:81'], { uid: 65534 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('forkserve: Cannot listen on 127.0.0.1:81: permission denied (EACCES). Ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a port from 1024 up with --bind\n');
  });

  it('a log file that cannot be opened says which and what to give, exit 2', async () => {
    const r = await cli(['examples/hello.ts', '--access-logfile', '/nonexistent-dir/access.log']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('forkserve: --access-logfile /nonexistent-dir/access.log: cannot open it for appending (ENOENT). Give a writable file path, or - for stdout\n');
  });

  it('a module:app spec without its extension gets a suggestion, exit 2', async () => {
    const r = await cli(['examples/hello:app']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('forkserve: App module not found: examples/hello. Did you mean examples/hello.ts:app? forkserve loads a file path with its extension, not a module name.\n');
  });

  it('a module with no app lists what it does export, exit 2', async () => {
    const r = await cli([fixture('no-app.ts')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('exports no app (looked for default, app, application): it exports: greeting (string), port (number).');
    const named = await cli(['examples/hello.ts:nope']);
    expect(named.status).toBe(2);
    expect(named.stderr).toBe('forkserve: examples/hello.ts has no export named "nope": it exports: app (function), default (function).\n');
  });

  it('an app whose interface cannot be told asks for --interface at load time, exit 2', async () => {
    const r = await cli([fixture('ambiguous.ts')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Cannot tell which interface the app speaks: a function (a, b) can be a WSGI app (environ, startResponse) or a Node request listener (req, res). Pass --interface wsgi, fetch or node');
    expect(r.stderr).not.toContain('Listening at');
  });

  it('a module that throws while loading is a runtime failure, exit 1', async () => {
    const r = await cli([fixture('throws.ts')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('forkserve: the database is not configured\n');
  });

  it.each([
    [['--bind', '127.0.0.1:70000'], 'Invalid --bind "127.0.0.1:70000": port 70000 is out of range (0 to 65535)'],
    [['--bind', '127.0.0.1:http'], 'Invalid --bind "127.0.0.1:http": the port "http" is not a number (expected HOST:PORT, [IPv6]:PORT, :PORT or PORT)'],
    [['--bind', '::1:8080'], 'Invalid --bind "::1:8080": expected HOST:PORT, [IPv6]:PORT, :PORT (all interfaces), PORT, unix:PATH or fd://N'],
    [['--bind', 'unix:'], 'Invalid --bind "unix:": no path after unix: (expected HOST:PORT, [IPv6]:PORT, :PORT (all interfaces), PORT, unix:PATH or fd://N)'],
    [['--bind', 'fd://x'], 'Invalid --bind "fd://x": fd://N takes a descriptor number (expected HOST:PORT, [IPv6]:PORT, :PORT (all interfaces), PORT, unix:PATH or fd://N)'],
    [['--engine', 'threads'], 'Unknown engine "threads": expected one of iterative, fork, prefork, poll, node'],
    [['--interface', 'asgi'], 'Unknown interface "asgi": expected one of auto, wsgi, fetch, node'],
    [['--workers', 'many'], '--workers must be an integer >= 1, got "many"'],
    [['--nope'], "Unknown option '--nope'. See forkserve --help"],
    [['-k', 'poll', '--trace-forks'], "--trace-forks traces the fork engine's accept, fork, close and reap: use it with -k fork (got -k poll)"],
    [['--trace-pause', '300'], '--trace-pause sets how long each stage of --trace-forks lasts: give --trace-forks too'],
    [['--trace-forks', '--trace-pause', '5'], '--trace-pause must be an integer from 10 to 600000, got "5"'],
    [['--fork-after', 'read'], '--fork-after must be head or accept, got "read"'],
    [['-k', 'poll', '--fork-after', 'head'], '--fork-after says when the fork engine forks: use it with -k fork (got -k poll)'],
  ])('usage error %j: one line, exit 2', async (args, message) => {
    const r = await cli(['examples/hello.ts', ...args]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`forkserve: ${message}\n`);
  });

  it('no app at all: says how to name one, exit 2', async () => {
    const r = await cli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('forkserve: No app given: run forkserve APP[:EXPORT], for example forkserve examples/hello.ts (forkserve --help lists the options)\n');
  });

  it('--help documents the exit statuses and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Exit status: 0 stopped');
    expect(r.stdout).toContain('2 a usage error');
  });
});

describe('--bind forms', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  it('[::1]:PORT listens on IPv6 loopback', async () => {
    const proc = spawn(process.execPath, [CLI, 'examples/hello.ts', '--bind', '[::1]:0', '--engine', 'poll'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    try {
      const port = await waitFor(() => /Listening at: http:\/\/\[::1\]:(\d+)/.exec(err)?.[1], 15_000);
      expect(port).toBeTruthy();
      const { stdout } = await execFileP('curl', ['-s', '--max-time', '5', `http://[::1]:${port}/six`]);
      expect(stdout).toBe('Hello, World! You asked for /six\n');
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it(':PORT listens on every IPv4 interface, and says so', async () => {
    const proc = spawn(process.execPath, [CLI, 'examples/hello.ts', '--bind', ':0', '--engine', 'poll'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    try {
      const port = await waitFor(() => /Listening at: http:\/\/0\.0\.0\.0:(\d+)/.exec(err)?.[1], 15_000);
      expect(port).toBeTruthy();
      expect(err).toContain('forkserve: --bind :0 listens on every IPv4 interface of this machine, not only loopback\n');
      const { stdout } = await execFileP('curl', ['-s', '--max-time', '5', `http://127.0.0.1:${port}/all`]);
      expect(stdout).toBe('Hello, World! You asked for /all\n');
    } finally {
      proc.kill('SIGTERM');
    }
  });
});

describe('process titles, as gunicorn sets them', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  const title = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0')[0];
  const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();

  it('prefork: the master and its workers say which is which, in ps and in ss (comm)', async () => {
    server = await startServer('examples/hello.ts', ['--engine', 'prefork', '--workers', '2']);
    const workers = await waitFor(() => (childPids(server!.pid).length === 2 ? childPids(server!.pid) : null), 10_000);
    expect(title(server.pid)).toBe('forkserve: master [examples/hello.ts]');
    expect(comm(server.pid)).toBe('forkserve: mast');
    for (const pid of workers!) {
      await waitFor(() => title(pid).startsWith('forkserve: worker'), 5000);
      expect(title(pid)).toBe('forkserve: worker [examples/hello.ts]');
      expect(comm(pid)).toBe('forkserve: work');
    }
  });

  it('fork: a child names the peer it serves', async () => {
    // Forked at accept (the course's server), the child exists while the head is half sent.
    server = await startServer('examples/hello.ts', ['--engine', 'fork', '--fork-after', 'accept']);
    const sock = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => sock.once('connect', resolve));
    try {
      sock.write('GET / HTTP/1.1\r\nHost: x\r\n'); // half a head: the child waits for the rest
      const child = await waitFor(() => childPids(server!.pid).find((pid) => title(pid).startsWith('forkserve: child')), 10_000);
      expect(child).toBeTruthy();
      expect(title(child!)).toBe(`forkserve: child [127.0.0.1:${sock.localPort}]`);
      expect(title(server.pid)).toBe('forkserve: master [examples/hello.ts]');
    } finally {
      sock.destroy();
    }
  });
});
