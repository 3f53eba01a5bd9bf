// forkserve/posix: real syscalls, Node-style errors, fork() from Node, and
// signal handlers with and without SA_RESTART, and signals that land just before a call sleeps.
import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as posix from '../src/posix.js';
import { FIXTURES } from './helpers/server.js';

const run = promisify(execFile);
const node = (script: string, args: string[] = []) =>
  run(process.execPath, ['--single-threaded', `${FIXTURES}/${script}`, ...args], { timeout: 30_000 });

describe('sockets', () => {
  it('binds, listens, connects and accepts with the peer address', () => {
    const { AF_INET, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR } = posix;
    const fd = posix.socket(AF_INET, SOCK_STREAM);
    posix.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    expect(posix.getsockopt(fd, SOL_SOCKET, SO_REUSEADDR)).not.toBe(0);
    posix.bind(fd, '127.0.0.1', 0);
    posix.listen(fd, 5);
    const addr = posix.getsockname(fd);
    expect(addr).toMatchObject({ family: 'IPv4', address: '127.0.0.1' });
    const client = posix.socket(AF_INET, SOCK_STREAM);
    posix.connect(client, '127.0.0.1', addr.port);
    const conn = posix.accept(fd);
    expect(conn.address.port).toBe(posix.getsockname(client).port);
    expect(posix.getpeername(conn.fd).port).toBe(conn.address.port);
    posix.sendall(client, Buffer.from('ping'));
    const buf = Buffer.alloc(16);
    const n = posix.recv(conn.fd, buf);
    expect(buf.subarray(0, n).toString()).toBe('ping');
    posix.shutdown(client, posix.SHUT_WR);
    expect(posix.read(conn.fd, buf)).toBe(0); // end of stream after the peer's shutdown
    for (const f of [conn.fd, client, fd]) posix.close(f);
  });

  it('throws SystemError with code, errno and syscall', () => {
    const fd = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    posix.bind(fd, '127.0.0.1', 0);
    posix.listen(fd, 1);
    const port = posix.getsockname(fd).port;
    const other = posix.socket(posix.AF_INET, posix.SOCK_STREAM);
    let err: posix.SystemError | undefined;
    try {
      posix.bind(other, '127.0.0.1', port);
    } catch (e) {
      err = e as posix.SystemError;
    }
    expect(err).toBeInstanceOf(posix.SystemError);
    expect(err).toMatchObject({ code: 'EADDRINUSE', errno: -os.constants.errno.EADDRINUSE, syscall: 'bind' });
    expect(err!.message).toBe('bind: EADDRINUSE (address already in use)');
    posix.close(other);
    posix.close(fd);
    expect(() => posix.close(fd)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'close' }));
    expect(() => posix.waitpid(-1, posix.WNOHANG)).toThrow(expect.objectContaining({ code: 'ECHILD', syscall: 'waitpid' }));
    expect(() => posix.kill(2 ** 22 + 12345, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('throws TypeError and RangeError on misuse', () => {
    expect(() => posix.close('3' as unknown as number)).toThrow(TypeError);
    expect(() => posix.close(-1)).toThrow(RangeError);
    expect(() => posix.bind(0, '127.0.0.1', 70000)).toThrow(RangeError);
    expect(() => posix.read(0, 'x' as unknown as Buffer)).toThrow(TypeError);
    expect(() => posix.sigaction('SIGNOPE' as posix.SignalName, () => {})).toThrow(TypeError);
  });

  it('reads and sets resource limits', () => {
    const { soft, hard } = posix.getrlimit(posix.RLIMIT_NOFILE);
    expect(soft).toBeGreaterThan(0);
    posix.setrlimit(posix.RLIMIT_NOFILE, { soft: soft - 1, hard });
    expect(posix.getrlimit(posix.RLIMIT_NOFILE).soft).toBe(soft - 1);
    posix.setrlimit(posix.RLIMIT_NOFILE, { soft, hard });
    expect(posix.getrlimit(posix.RLIMIT_NPROC).soft).not.toBe(0);
  });
});

describe('fork()', () => {
  it('runs a child that allocates heavily and awaits, and the parent sees its exit code', async () => {
    for (const code of [42, 7]) {
      const { stdout } = await node('fork-child.mjs', [String(code)]);
      const { pid, status } = JSON.parse(stdout);
      expect(status).toEqual({ pid, exited: true, exitCode: code, signaled: false, signal: null, coreDumped: false, stopped: false });
    }
  });
});

// glibc's pthread_cond_signal() in a child can wait forever for waiters
// that were threads of the parent (docs/fork-in-node.md §3). Each child
// here runs 40 full GCs, each posting a V8 job to Node's platform.
describe('fork() and Node\'s platform threads', () => {
  const gcFork = async (env: NodeJS.ProcessEnv = {}) => {
    const { stdout } = await run(process.execPath, ['--single-threaded', '--expose-gc', `${FIXTURES}/gc-fork.mjs`, '60'], {
      timeout: 60_000, env: { ...process.env, ...env },
    });
    return JSON.parse(stdout) as { children: number; hung: number; parking: posix.ForkParking };
  };

  it('parks them around fork(): 60 GC-heavy children, none hangs', async () => {
    const r = await gcFork();
    expect(r.parking.workers).toBeGreaterThan(0);
    expect(r.parking).toMatchObject({ forksParked: 60, forksUnparked: 0, inForkedChild: false });
    expect(r.hung).toBe(0);
  }, 70_000);

  it('without parking (FORKSERVE_NO_PARKING=1) children of the same parent hang in futex_wait', async () => {
    const r = await gcFork({ FORKSERVE_NO_PARKING: '1' });
    expect(r.parking.forksParked).toBe(0);
    expect(r.hung).toBeGreaterThan(0);
  }, 70_000);
});

describe('signal handlers and a blocking accept()', () => {
  it('without SA_RESTART: the handler runs, then accept() throws EINTR', async () => {
    const { stdout } = await node('eintr.mjs');
    const r = JSON.parse(stdout);
    expect(r).toMatchObject({ accepted: false, code: 'EINTR', errno: -4, syscall: 'accept', name: 'SystemError' });
    expect(r.events).toEqual(['handler', 'reaped 3', 'accept threw EINTR']);
  });

  it('with SA_RESTART: the handler runs while accept() is blocked, then the call resumes', async () => {
    // The only connection comes from a child the handler signals: accept()
    // returns only if the handler ran during it, not after it.
    const { stdout } = await node('eintr.mjs', ['restart']);
    const r = JSON.parse(stdout);
    expect(r.accepted).toBe(true);
    expect(r.events.slice(0, 2)).toEqual(['handler', 'reaped 3']);
    expect(r.events.at(-1)).toBe('accept returned');
  });

  it('a signal raised after the last handler run and before accept() sleeps is not slept through', async () => {
    // Without the native check the process sleeps in accept() until alarm(5) ends it.
    const { stdout } = await node('signal-window.mjs');
    expect(JSON.parse(stdout)).toEqual(['SIGUSR1', 'SIGUSR2', 'accepted']);
  });

  it('a SIGCHLD that came before accept(): the handler runs first, and accept() waits for a connection', async () => {
    // Lesson 8's lost zombie: a child exits after the last handler run and
    // before accept() sleeps. Its handler must not wait for the next
    // connection; here that connection only comes because the handler ran.
    const { stdout } = await node('eintr.mjs', ['before']);
    const r = JSON.parse(stdout);
    expect(r.accepted).toBe(true);
    expect(r.events.slice(0, 2)).toEqual(['handler', 'reaped 3']);
    expect(r.events.at(-1)).toBe('accept returned');
  });
});

describe('forkExec()', () => {
  const reap = async (pid: number) => {
    for (let i = 0; i < 500; i++) {
      const st = posix.waitpid(pid, posix.WNOHANG);
      if (st.pid) return st;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`child ${pid} did not exit`);
  };

  it('runs the program with the given environment and keeps only the descriptors asked for', async () => {
    const [keep, peer] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    const [closed, peer2] = posix.socketpair(posix.AF_UNIX, posix.SOCK_STREAM);
    // The child (bash: dash takes single-digit descriptors only) writes $GREETING to the kept descriptor, and tries the other (close-on-exec: gone).
    const script = `printf "%s" "$GREETING" >&${keep}; printf x >&${closed} 2>/dev/null && exit 3; exit 0`;
    const pid = posix.forkExec('/bin/bash', ['bash', '-c', script], { env: { GREETING: 'hello', PATH: '/usr/bin:/bin' }, keep: [keep] });
    const st = await reap(pid);
    expect(st.exited && st.exitCode).toBe(0);
    const buf = Buffer.alloc(16);
    const n = posix.recv(peer, buf, posix.MSG_DONTWAIT);
    expect(buf.subarray(0, n).toString()).toBe('hello');
    for (const fd of [keep, peer, closed, peer2]) posix.close(fd);
  });

  it('a program that cannot be executed ends the child with status 127', async () => {
    const st = await reap(posix.forkExec('/nonexistent/program', ['x']));
    expect(st.exited && st.exitCode).toBe(127);
  });
});
