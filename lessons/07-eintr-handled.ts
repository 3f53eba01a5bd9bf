/**
 * Lesson 7: EINTR handled, but one wait per signal.
 *
 * accept() failing with EINTR is no longer fatal: the loop calls it again.
 * The SIGCHLD handler still calls waitpid(-1, 0) once per signal. Standard
 * signals do not queue: while a SIGCHLD is pending, more children exiting add
 * nothing to it (signal(7)). After a burst of children exiting together the
 * handler runs fewer times than children exited, and the rest stay zombies.
 *
 *   node lessons/run.cjs 07-eintr-handled.ts [--port 8888]
 *   ./bin/forkserve.js client --max-clients 20 --max-conns 1 --url http://127.0.0.1:8888/
 *   ps -o pid,ppid,stat,cmd --ppid PID      # some Z <defunct> remain
 */
import {
  AF_INET,
  AF_INET6,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  _exit,
  accept,
  bind,
  close,
  fork,
  getpid,
  getsockname,
  listen,
  setsockopt,
  sigaction,
  socket,
  waitpid,
} from 'forkserve/posix';
import { describeStatus, fdName, handleRequest, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 07-eintr-handled.ts [--sleep S] [--port 8888] [--host 127.0.0.1] [--backlog 1024]\n';

function main(): void {
  const opts = lessonOptions(USAGE, { backlog: 1024 });
  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  const { port } = getsockname(listenFd);

  let forked = 0;
  let signals = 0;
  let reaped = 0;
  sigaction('SIGCHLD', () => {
    signals++;
    let st;
    try {
      st = waitpid(-1, 0); // one wait per signal: the mistake of this lesson
    } catch (err) {
      if ((err as { code?: string }).code === 'ECHILD') return;
      throw err;
    }
    reaped++;
    say('handler', `SIGCHLD #${signals}: reaped child ${st.pid} (${describeStatus(st)}); forked ${forked}, reaped ${reaped}, not reaped ${forked - reaped}`);
  });
  say('parent', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}); SIGCHLD handler: one waitpid(-1, 0) per signal ...`);

  for (;;) {
    let conn;
    try {
      conn = accept(listenFd);
    } catch (err) {
      if ((err as { code?: string }).code === 'EINTR') {
        say('parent', 'accept: EINTR (a signal handler ran); calling accept() again');
        continue;
      }
      throw err;
    }
    const { fd, address } = conn;
    const pid = fork();
    if (pid === 0) {
      close(listenFd);
      handleRequest(fd, opts.sleep);
      close(fd);
      _exit(0);
    }
    close(fd);
    forked++;
    say('parent', `accepted fd ${fd} from ${address.address}:${address.port}, forked child ${pid} (${forked} forked)`);
  }
}

main();
