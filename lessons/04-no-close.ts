/**
 * Lesson 4: the parent forgets to close the connection's descriptor.
 *
 * After fork() the connection has two references: the parent's descriptor
 * and the child's. The child answers, closes its descriptor and exits, but
 * the kernel sends FIN only when the LAST reference goes, and that one is
 * the parent's. The client got the whole response and never sees its end:
 * curl hangs. And every connection costs the parent one descriptor for good,
 * so with a low RLIMIT_NOFILE (--nofile N) accept() soon fails with EMFILE.
 *
 *   node lessons/run.cjs 04-no-close.ts [--nofile 30] [--port 8888]
 *   curl http://127.0.0.1:8888/          # prints Hello, World! and hangs (^C)
 *   ls -l /proc/PID/fd                    # one more socket per connection
 */
import {
  AF_INET,
  AF_INET6,
  RLIMIT_NOFILE,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  WNOHANG,
  _exit,
  accept,
  bind,
  close,
  fork,
  getpid,
  getrlimit,
  getsockname,
  listen,
  setrlimit,
  setsockopt,
  socket,
  waitpid,
} from 'forkserve/posix';
import fs from 'node:fs';
import { describeError, describeStatus, fdName, handleRequest, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 04-no-close.ts [--nofile N] [--sleep S] [--port 8888] [--host 127.0.0.1] [--backlog 1024]\n';

/** Reaps every child that has exited, without blocking (as in lesson 3). */
function reapExited(): void {
  for (;;) {
    let st;
    try {
      st = waitpid(-1, WNOHANG);
    } catch (err) {
      if ((err as { code?: string }).code === 'ECHILD') return;
      throw err;
    }
    if (st.pid === 0) return;
    say('parent', `reaped child ${st.pid} (${describeStatus(st)})`);
  }
}

/** The numbers of this process's open descriptors (Linux /proc/self/fd, macOS /dev/fd), the directory's own left out. */
function openDescriptors(): number[] {
  const dir = fs.existsSync('/proc/self/fd') ? '/proc/self/fd' : '/dev/fd';
  const fds = fs.readdirSync(dir).map(Number);
  return fds.filter((fd) => fs.existsSync(`${dir}/${fd}`)).sort((a, b) => a - b);
}

function main(): void {
  const opts = lessonOptions(USAGE, { backlog: 1024 });
  // The listening socket first: how many descriptors Node already holds
  // depends on how it was started (a terminal, a pipe, a test runner), so
  // the lesson counts them and says which --nofile shows EMFILE.
  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  // A new descriptor takes the lowest free number, and under RLIMIT_NOFILE
  // N it must be below N: the free numbers below N are the connections
  // this parent can hold before accept() fails with EMFILE.
  const open = openDescriptors();
  const freeBelow = (n: number) => n - open.filter((fd) => fd < n).length;
  let fiveFree = listenFd + 1;
  while (freeBelow(fiveFree) < 5) fiveFree++;
  if (opts.nofile !== null) {
    if (freeBelow(opts.nofile) < 1) {
      process.stderr.write(`--nofile ${opts.nofile} leaves no descriptor for a connection: fds 0 to ${opts.nofile - 1} are all open already. Pass --nofile ${fiveFree} to serve 5 connections before accept() fails with EMFILE\n`);
      process.exit(2);
    }
    const { hard } = getrlimit(RLIMIT_NOFILE);
    setrlimit(RLIMIT_NOFILE, { soft: opts.nofile, hard });
  }
  const { port } = getsockname(listenFd);
  const { soft } = getrlimit(RLIMIT_NOFILE);
  say('parent', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}) ...`);
  say('parent', `RLIMIT_NOFILE soft limit ${soft === -1 ? 'unlimited' : soft}; ${open.length} descriptors open, the listening socket is fd ${listenFd}${opts.nofile === null ? `; run with --nofile ${fiveFree} to see EMFILE at the 6th connection` : ''}`);

  const held: number[] = [];
  for (;;) {
    reapExited();
    let conn;
    try {
      conn = accept(listenFd);
    } catch (err) {
      say('parent', `accept failed: ${describeError(err)}`);
      if ((err as { code?: string }).code === 'EMFILE') {
        say('parent', `EMFILE: no descriptor number left under RLIMIT_NOFILE ${soft}: this process holds ${held.length} connections it never closed (fds ${held[0]}..${held.at(-1)})`);
      }
      process.exit(1);
    }
    const { fd, address } = conn;
    const pid = fork();
    if (pid === 0) {
      close(listenFd);
      say('child', `serving fd ${fd} (${fdName(fd)}) for ${address.address}:${address.port}`);
      handleRequest(fd, opts.sleep);
      close(fd); // the child's reference goes; the parent's stays, so no FIN is sent
      say('child', `closed fd ${fd} and exits, but the parent still holds its copy: the client sees no end of stream`);
      _exit(0);
    }
    // The mistake of this lesson: no close(fd) here.
    held.push(fd);
    say('parent', `accepted fd ${fd} (${fdName(fd)}) from ${address.address}:${address.port}, forked child ${pid}, did NOT close fd ${fd} (${held.length} connection descriptors held)`);
  }
}

main();
