/**
 * Lesson 3: one process per connection. After accept(), the server forks: the
 * child serves the connection and exits, the parent closes its copy of the
 * connection's descriptor and goes straight back to accept(). A child that
 * sleeps (--sleep S) no longer holds up the others.
 *
 *   node lessons/run.cjs 03-fork.ts --sleep 10 [--port 8888]
 *   curl http://127.0.0.1:8888/ & curl http://127.0.0.1:8888/ & wait   # both answer after 10 s, not 20
 *
 * Reaping: after each accept() the parent collects the children that have
 * already exited, with waitpid(-1, WNOHANG) in a loop, which never blocks.
 * So children that exit stay zombies only until the next connection arrives.
 * Lesson 5 drops this to show zombies piling up; lessons 6 to 8 reap from a
 * SIGCHLD handler instead, as soon as a child exits.
 */
import {
  AF_INET,
  AF_INET6,
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
  getppid,
  getsockname,
  listen,
  setsockopt,
  socket,
  waitpid,
} from 'forkserve/posix';
import { describeStatus, fdName, handleRequest, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 03-fork.ts [--sleep S] [--port 8888] [--host 127.0.0.1] [--backlog 1024]\n';

/** Reaps every child that has exited, without blocking. */
function reapExited(): void {
  for (;;) {
    let st;
    try {
      st = waitpid(-1, WNOHANG);
    } catch (err) {
      if ((err as { code?: string }).code === 'ECHILD') return; // no children at all
      throw err;
    }
    if (st.pid === 0) return; // children remain, none has exited
    say('parent', `reaped child ${st.pid} (${describeStatus(st)})`);
  }
}

function main(): void {
  const opts = lessonOptions(USAGE, { backlog: 1024 });
  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  const { port } = getsockname(listenFd);
  say('parent', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}, children sleep ${opts.sleep} s) ...`);

  for (;;) {
    const { fd, address } = accept(listenFd);
    reapExited();
    const pid = fork();
    if (pid === 0) {
      // The child: a copy of the parent, holding both descriptors.
      close(listenFd); // it will not accept; only the parent does
      say('child', `serving fd ${fd} (${fdName(fd)}) for ${address.address}:${address.port}; parent ${getppid()}`);
      handleRequest(fd, opts.sleep);
      close(fd);
      _exit(0); // never return into the parent's loop
    }
    // The parent: the child has its own reference to the connection. Closing
    // ours makes the child's the last one, so the client sees the end of the
    // response when the child closes (or exits).
    close(fd);
    say('parent', `accepted fd ${fd} from ${address.address}:${address.port}, forked child ${pid}, closed fd ${fd}`);
  }
}

main();
