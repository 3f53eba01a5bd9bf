// forkserve/observe against real processes (Linux /proc).
// Every child is started in its own process group (detached) and the whole
// group is SIGKILLed in afterEach; every wait is bounded.

import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  descriptors,
  processTree,
  sharedDescriptors,
  zombies,
  type Descriptor,
  type InetSocketInfo,
  type ProcessInfo,
} from '../src/observe.js';
import { psReport, renderPs, type PsReport } from '../src/observe/format.js';
import { FIXTURES, childPids, startServer, until, waitFor as waitUntil } from './helpers/server.js';
import { decodeAddress, parseInetTable, parseUnixTable } from '../src/observe/net.js';
import { parseStat } from '../src/observe/procfs.js';

const linux = process.platform === 'linux';

const started: ChildProcess[] = [];
let tmp = '';

function start(command: string, args: string[], opts: SpawnOptions = {}): ChildProcess & { pid: number } {
  const child = spawn(command, args, { stdio: 'ignore', ...opts, detached: true });
  started.push(child);
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  return child as ChildProcess & { pid: number };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitExit(child: ChildProcess, ms = 2000): Promise<void> {
  if (exited(child)) return;
  await Promise.race([once(child, 'exit'), sleep(ms)]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 20 ms until it returns something other than undefined/null/false, for at most `ms`. */
/** First line a child prints on stdout, within `ms`. */
async function firstLine(child: ChildProcess, ms = 5000): Promise<string> {
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line from child within ${ms} ms: ${buffered}`)), ms);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, nl));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code ?? signal}) before printing a line: ${buffered}`));
    });
  });
}

function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  throw new Error('expected an error');
}

/** `sh` whose child `sleep 0.2` becomes a zombie: the exec'd `sleep 30` never reaps it. */
async function zombieParent(): Promise<{ parent: ChildProcess & { pid: number }; zombie: ProcessInfo }> {
  const parent = start('sh', ['-c', 'sleep 0.2 & exec sleep 30']);
  const zombie = await until('a zombie child', () => processTree(parent.pid).find((p) => p.depth === 1 && p.zombie));
  return { parent, zombie };
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-observe-'));
});

afterEach(async () => {
  for (const child of started.splice(0)) {
    try {
      process.kill(-child.pid!, 'SIGKILL'); // the whole process group
    } catch {
      // already gone
    }
    await waitExit(child);
  }
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('parsers', () => {
  it('splits /proc/PID/stat at the last parenthesis', () => {
    const fields = Array.from({ length: 49 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    fields[1] = '77';
    fields[22 - 3] = '123456';
    const stat = parseStat(`4242 (a) b (c)) ${fields.join(' ')}\n`);
    expect(stat).toEqual({ pid: 4242, comm: 'a) b (c)', state: 'S', ppid: 77, startTicks: 123456 });
  });

  it('decodes /proc/net address words', () => {
    if (os.endianness() !== 'LE') return; // the fixtures below are little-endian dumps
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(decodeAddress('B80D0120000000000000000001000000')).toBe('2001:db8::1');
  });

  it('parses tcp and unix tables', () => {
    if (os.endianness() !== 'LE') return;
    const out = new Map();
    parseInetTable(
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n' +
        '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000003 00:00000000 00000000  1000        0 5001 1 0 100 0 0 10 0\n' +
        '   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 5002 1 0 20 4 30 10 -1\n' +
        '   2: 0100007F:D432 0100007F:1F90 06 00000000:00000000 03:00001000 00000000     0        0 0 3 0\n',
      'inet',
      'tcp',
      out,
    );
    parseUnixTable(
      'Num       RefCount Protocol Flags    Type St Inode Path\n' +
        '0000000000000000: 00000002 00000000 00010000 0001 01 6001 /run/a b.sock\n' +
        '0000000000000000: 00000003 00000000 00000000 0001 03 6002\n' +
        '0000000000000000: 00000002 00000000 00000000 0002 01 6003 @abstract\n',
      out,
    );
    expect(out.get(5001)).toEqual({
      family: 'inet', protocol: 'tcp', localAddress: '127.0.0.1', localPort: 8080,
      remoteAddress: '0.0.0.0', remotePort: 0, state: 'LISTEN', acceptQueue: { length: 3 },
    });
    expect(out.get(5002)).toMatchObject({ remotePort: 0xd431, state: 'ESTABLISHED' });
    expect(out.has(0)).toBe(false); // TIME_WAIT, owned by no file
    expect(out.get(6001)).toEqual({ family: 'unix', protocol: 'stream', path: '/run/a b.sock', state: 'LISTEN' });
    expect(out.get(6002)).toEqual({ family: 'unix', protocol: 'stream', path: null, state: 'CONNECTED' });
    expect(out.get(6003)).toEqual({ family: 'unix', protocol: 'dgram', path: '@abstract', state: 'UNCONNECTED' });
  });
});

describe('platforms', () => {
  it('throws ENOSYS on a platform with neither /proc nor libproc, naming both paths', () => {
    const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...real, value: 'freebsd' });
    try {
      for (const call of [() => processTree(1), () => descriptors(1), () => sharedDescriptors([1]), () => zombies(1)]) {
        const err = errorOf(call);
        expect(err.code).toBe('ENOSYS');
        expect(err.message).toMatch(/libproc.*proc_pidinfo/);
      }
    } finally {
      Object.defineProperty(process, 'platform', real);
    }
    expect(process.platform).toBe(real.value);
  });
});

describe.runIf(linux)('processTree / zombies', () => {
  it('shows a real zombie, then its cleanup when the parent dies', async () => {
    const before = Date.now();
    const { parent, zombie } = await zombieParent();
    expect(zombie).toMatchObject({
      ppid: parent.pid, depth: 1, state: 'Z', zombie: true, command: 'sleep', args: [], descriptorCount: null,
    });

    const tree = processTree(parent.pid);
    expect(tree[0]).toMatchObject({ pid: parent.pid, depth: 0, zombie: false, command: 'sleep', args: ['sleep', '30'] });
    expect(tree[0]!.descriptorCount).toBeGreaterThanOrEqual(3);
    expect(Math.abs(tree[0]!.startTime.getTime() - before)).toBeLessThan(3000);
    expect(zombies(parent.pid).map((p) => p.pid)).toEqual([zombie.pid]);
    expect(descriptors(zombie.pid)).toEqual([]);

    // Kill the non-reaping parent (Node reaps it): the zombie is orphaned, the
    // kernel reparents it to init (or a subreaper), which reaps it.
    process.kill(parent.pid, 'SIGKILL');
    await waitExit(parent);
    expect(exited(parent)).toBe(true);
    expect(errorOf(() => processTree(parent.pid)).code).toBe('ESRCH');
    const fate = await until('the zombie to be reparented or reaped', () => {
      try {
        const [z] = processTree(zombie.pid);
        return z!.ppid !== parent.pid ? `reparented to ${z!.ppid}` : null;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH' ? 'reaped' : null;
      }
    });
    expect(fate).toMatch(/^(reaped|reparented to \d+)$/);
  });

  it('lists descendants depth-first, parent first', async () => {
    // root → { inner → grandchild, sibling }; siblings ordered by start time.
    const root = start('sh', ['-c', 'sh -c "sleep 30 & exec sleep 30" & sleep 30 & exec sleep 30']);
    const tree = await until('three levels', () => {
      const t = processTree(root.pid);
      return t.length === 4 && t.every((p) => p.command === 'sleep') ? t : null;
    });
    expect(tree.map((p) => p.depth)).toEqual([0, 1, 2, 1]);
    expect(tree[0]!.pid).toBe(root.pid);
    // Each process comes after its parent, and depth = parent's depth + 1.
    for (const p of tree.slice(1)) {
      const parentIndex = tree.findIndex((q) => q.pid === p.ppid);
      expect(parentIndex).toBeGreaterThanOrEqual(0);
      expect(parentIndex).toBeLessThan(tree.indexOf(p));
      expect(p.depth).toBe(tree[parentIndex]!.depth + 1);
    }
  });

  it('reads comm with spaces and parentheses', async () => {
    const link = path.join(tmp, 'a) b (c');
    const sleepBin = (process.env.PATH ?? '/usr/bin:/bin')
      .split(':')
      .map((dir) => path.join(dir, 'sleep'))
      .find((file) => fs.existsSync(file))!;
    fs.symlinkSync(sleepBin, link);
    const child = start(link, ['30']);
    const [p] = await until('exec of the oddly named sleep', () => {
      const t = processTree(child.pid);
      return t[0]!.command === 'a) b (c' && t[0]!.state === 'S' ? t : null;
    });
    expect(p).toMatchObject({ pid: child.pid, command: 'a) b (c', state: 'S', args: [link, '30'] });
  });

  it('throws ESRCH for a pid that does not exist', async () => {
    const child = start('true', []);
    await waitExit(child);
    expect(exited(child)).toBe(true);
    const err = errorOf(() => processTree(child.pid));
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      code: 'ESRCH', errno: -os.constants.errno.ESRCH, syscall: 'open', path: `/proc/${child.pid}/stat`,
    });
    expect(err.message).toBe(`ESRCH: no such process, open '/proc/${child.pid}/stat'`);
    expect(errorOf(() => descriptors(child.pid))).toMatchObject({ code: 'ESRCH', path: `/proc/${child.pid}/fd` });
    expect(errorOf(() => zombies(child.pid)).code).toBe('ESRCH');
    expect(errorOf(() => processTree(0)).code).toBe('ERR_OUT_OF_RANGE');
    expect(errorOf(() => processTree('1' as unknown as number)).code).toBe('ERR_INVALID_ARG_TYPE');
  });

  it('counts the descriptors of this process', () => {
    // Other code in this process may open or close a descriptor between the two
    // counts: retry a few times until both sides agree.
    let last: [number | null, number] = [null, -1];
    for (let attempt = 0; attempt < 5; attempt++) {
      const expected = fs.readdirSync(`/proc/${process.pid}/fd`).length;
      const self = processTree(process.pid)[0]!;
      last = [self.descriptorCount, expected];
      if (self.descriptorCount === expected) break;
    }
    expect(last[0]).toBe(last[1]);
  });
});

// A Node child that listens on 127.0.0.1:0, connects to itself, and prints
// {pid, port, clientPort} once both ends are established.
const SELF_CONNECT = `
const net = require('node:net');
let accepted = null, client = null, printed = false;
const server = net.createServer((s) => { accepted = s; report(); });
server.listen(0, '127.0.0.1', () => {
  client = net.connect(server.address().port, '127.0.0.1', report);
});
function report() {
  if (printed || !accepted || !client || !client.localPort) return;
  printed = true;
  process.stdout.write(JSON.stringify({ pid: process.pid, port: server.address().port, clientPort: client.localPort }) + '\\n');
}
`;

describe.runIf(linux)('descriptors', () => {
  it('decodes a listening and an established TCP socket, a pipe and a unix socket', async () => {
    // node's stdout is a real pipe (to cat); its stdin is the Unix socketpair
    // that Node's spawn() makes for stdio 'pipe', inherited through sh.
    const sh = start('sh', ['-c', '"$NODE" -e "$SCRIPT" | cat'], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, NODE: process.execPath, SCRIPT: SELF_CONNECT },
    });
    const { pid, port, clientPort } = JSON.parse(await firstLine(sh)) as { pid: number; port: number; clientPort: number };
    const fds = descriptors(pid);
    const inet = (d: Descriptor) => (d.socket?.family === 'inet' ? (d.socket as InetSocketInfo) : null);

    const listening = fds.find((d) => inet(d)?.state === 'LISTEN');
    expect(listening).toMatchObject({
      type: 'socket',
      target: `socket:[${listening!.inode}]`,
      socket: { family: 'inet', protocol: 'tcp', localAddress: '127.0.0.1', localPort: port, remotePort: 0, state: 'LISTEN' },
    });
    expect(listening!.identity).toBe(`${listening!.device}:${listening!.inode}`);

    // The client end: connected to the listening port.
    expect(fds.find((d) => inet(d)?.remotePort === port)).toMatchObject({
      type: 'socket',
      socket: { family: 'inet', protocol: 'tcp', localPort: clientPort, remoteAddress: '127.0.0.1', remotePort: port, state: 'ESTABLISHED' },
    });
    // The accepted end.
    expect(fds.find((d) => inet(d)?.localPort === port && inet(d)?.state === 'ESTABLISHED')).toMatchObject({
      socket: { remotePort: clientPort },
    });

    const stdout = fds.find((d) => d.fd === 1)!;
    expect(stdout).toMatchObject({ type: 'pipe', access: 'write', socket: null });
    expect(stdout.target).toBe(`pipe:[${stdout.inode}]`);

    expect(fds.find((d) => d.fd === 0)).toMatchObject({
      type: 'socket', socket: { family: 'unix', protocol: 'stream', path: null, state: 'CONNECTED' },
    });
    expect(fds.map((d) => d.fd)).toEqual([...fds.map((d) => d.fd)].sort((a, b) => a - b));
    expect(processTree(pid)[0]!.descriptorCount).toBe(fds.length);
  });

  it('reads pos and flags of a file from fdinfo', async () => {
    const file = path.join(tmp, 'pos.txt');
    const child = start('sh', ['-c', 'exec 3>"$F"; printf hello >&3; exec sleep 30'], { env: { ...process.env, F: file } });
    const d = await until('fd 3 at offset 5', () => {
      const fd3 = processTree(child.pid)[0]!.args[0] === 'sleep' ? descriptors(child.pid).find((x) => x.fd === 3) : undefined;
      return fd3?.pos === 5 ? fd3 : null;
    });
    const st = fs.statSync(file);
    expect(d).toMatchObject({ type: 'file', target: file, access: 'write', device: st.dev, inode: st.ino });
    expect(d.flags! & 0o3 /* O_ACCMODE */).toBe(fs.constants.O_WRONLY);
  });
});

describe.runIf(linux)('sharedDescriptors', () => {
  it('groups a file and a socket inherited across fork()', async () => {
    const file = path.join(tmp, 'shared.txt');
    // fd 1 is the Unix socketpair from spawn(); fd 3 is a file; the background
    // sleep inherits both.
    const parent = start('sh', ['-c', 'exec 3>"$F"; sleep 30 & exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, F: file },
    });
    const child = await until('the forked sleep', () => processTree(parent.pid).find((p) => p.depth === 1 && p.command === 'sleep'));
    const shared = sharedDescriptors([parent.pid, child.pid]);

    const st = fs.statSync(file);
    expect(shared.get(`${st.dev}:${st.ino}`)).toEqual([
      { pid: parent.pid, fd: 3 },
      { pid: child.pid, fd: 3 },
    ]);
    const stdout = descriptors(parent.pid).find((d) => d.fd === 1)!;
    expect(stdout.socket).toMatchObject({ family: 'unix' });
    expect(shared.get(stdout.identity)).toEqual([
      { pid: parent.pid, fd: 1 },
      { pid: child.pid, fd: 1 },
    ]);
    // Every group really is referenced more than once.
    for (const refs of shared.values()) expect(refs.length).toBeGreaterThan(1);
  });

  it('groups a listening socket a parent passed to its child (SCM_RIGHTS)', async () => {
    const child = `process.on('message', (m, server) => { globalThis.keep = server; process.send('got it'); });`;
    const parentScript = `
      const net = require('node:net');
      const { spawn } = require('node:child_process');
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => {
        const c = spawn(process.execPath, ['-e', process.env.CHILD], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        c.once('message', () => process.stdout.write(JSON.stringify({ parent: process.pid, child: c.pid, port: server.address().port }) + '\\n'));
        c.send('server', server);
      });`;
    const proc = start(process.execPath, ['-e', parentScript], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, CHILD: child },
    });
    const ids = JSON.parse(await firstLine(proc)) as { parent: number; child: number; port: number };
    expect(processTree(ids.parent).map((p) => p.pid)).toContain(ids.child);

    const isListener = (d: Descriptor) => d.socket?.state === 'LISTEN' && (d.socket as InetSocketInfo).localPort === ids.port;
    const inParent = descriptors(ids.parent).find(isListener)!;
    const inChild = descriptors(ids.child).find(isListener)!;
    expect(inParent).toBeDefined();
    expect(inChild).toBeDefined();
    expect(inChild.identity).toBe(inParent.identity);
    expect(inChild.inode).toBe(inParent.inode);
    expect(inChild.device).toBe(inParent.device);

    const refs = sharedDescriptors([ids.parent, ids.child]).get(inParent.identity);
    expect(refs).toEqual([
      { pid: ids.parent, fd: inParent.fd },
      { pid: ids.child, fd: inChild.fd },
    ]);
  });

  it('skips pids that no longer exist', async () => {
    const gone = start('true', []);
    await waitExit(gone);
    expect(sharedDescriptors([gone.pid]).size).toBe(0);
  });
});

describe.runIf(linux)('renderPs', () => {
  it('renders the tree with the zombie marked, and the same data as JSON', async () => {
    const { parent, zombie } = await zombieParent();
    const text = renderPs(parent.pid, {});
    const lines = text.split('\n');
    const row = (pid: number) => lines.find((l) => l.startsWith(`${pid} `));
    expect(lines[0]).toMatch(/^PID\s+PPID\s+STATE\s+STARTED\s+FDS\s+COMMAND$/);
    expect(row(parent.pid)).toContain('sleep 30');
    expect(row(zombie.pid)).toContain('Z (zombie)');
    expect(row(zombie.pid)).toContain('<defunct>');
    expect(text).toContain(`PID ${parent.pid} (sleep): `);
    expect(text).toMatch(new RegExp(`PID ${zombie.pid} \\(sleep\\): Z \\(zombie\\)`));
    expect(text).toMatch(/FD\s+TYPE\s+MODE\s+IDENTITY\s+DETAILS/);

    const report = JSON.parse(renderPs(parent.pid, { json: true })) as PsReport;
    expect(report.pid).toBe(parent.pid);
    const tree = processTree(parent.pid);
    expect(report.processes.map((p) => [p.pid, p.ppid, p.state, p.zombie, p.depth])).toEqual(
      tree.map((p) => [p.pid, p.ppid, p.state, p.zombie, p.depth]),
    );
    expect(report.processes.map((p) => p.startTime)).toEqual(tree.map((p) => p.startTime.toISOString()));
    const z = report.processes.find((p) => p.pid === zombie.pid)!;
    expect(z).toMatchObject({ state: 'Z', zombie: true, descriptors: null, descriptorCount: null });
    const top = report.processes[0]!;
    expect(top.descriptors!.map((d) => d.fd)).toEqual(descriptors(parent.pid).map((d) => d.fd));
    // The standard streams and /dev/null are folded into a count; --all lists every descriptor.
    const folded = top.descriptors!.filter((d) => d.fd <= 2 || d.target === '/dev/null');
    for (const d of top.descriptors!) {
      const listed = new RegExp(`^  ${d.fd}\\s+${d.type}\\s`, 'm');
      if (folded.includes(d)) expect(text).not.toMatch(listed);
      else expect(text).toMatch(listed);
    }
    expect(text).toContain(`(${folded.length} standard streams and /dev/null not shown: --all shows them)`);
    const all = renderPs(parent.pid, { all: true });
    for (const d of top.descriptors!) expect(all).toMatch(new RegExp(`^  ${d.fd}\\s+${d.type}\\s`, 'm'));
  });
});

describe.runIf(linux)('forkserve ps: what is shared', () => {
  it('a prefork tree shares exactly one open file description, the listening socket, held by the master and every worker', async () => {
    const server = await startServer(`${FIXTURES}/apps.ts:echo`, ['--engine', 'prefork', '--workers', '2', '--no-access-log']);
    try {
      expect(await waitUntil(() => childPids(server.pid).length === 2, 15_000)).toBe(true);
      const workers = childPids(server.pid);
      const report = psReport(server.pid);
      const what = (g: PsReport['shared'][number]) => report.processes.find((p) => p.pid === g.refs[0]!.pid)!.descriptors!.find((d) => d.fd === g.refs[0]!.fd)!;
      // Descriptors the test runner itself holds were inherited from outside the tree (a CI harness's pipe): not the server's doing.
      const runners = new Set(descriptors(process.pid).map((d) => d.identity));
      const shared = report.shared.filter((g) => !runners.has(what(g).identity));
      expect(shared.map((g) => g.refs.map((r) => r.pid)), JSON.stringify(report.shared.map((g) => [g.refs, what(g).target]))).toEqual([[server.pid, ...workers]]);
      const [group] = shared;
      const master = report.processes.find((p) => p.pid === server.pid)!;
      const listener = master.descriptors!.find((d) => d.fd === group!.refs[0]!.fd)!;
      expect(listener.socket).toMatchObject({ state: 'LISTEN', localPort: server.port });
      // No group is held by one process only (a pipe's two ends), and the inherited stdio is folded.
      for (const g of report.shared) expect(new Set(g.refs.map((r) => r.pid)).size).toBeGreaterThan(1);
      const text = renderPs(server.pid);
      expect(text).toMatch(/standard streams and \/dev\/null not shown: --all shows them/);
      expect(text).toContain(`[shared: one open file description, 3 references; also ${workers.map((w) => `${w}/fd ${group!.refs[1]!.fd}`).join(', ')}]`);
      // --all brings the standard streams back, shared by the whole tree (the pipes of this test's spawn()).
      expect(psReport(server.pid, { all: true }).shared.length).toBeGreaterThan(1);
    } finally {
      await server.stop();
    }
  }, 30_000);
});
