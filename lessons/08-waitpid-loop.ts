/**
 * Lesson 8: the waitpid(-1, WNOHANG) loop.
 *
 * One SIGCHLD may stand for many exited children, so the handler reaps until
 * there is nothing left to reap: waitpid(-1, WNOHANG) returns pid 0 when
 * children remain but none has exited, and fails with ECHILD when there are
 * no children at all. It never blocks. After the same burst as in lesson 7,
 * no zombie remains. EINTR from accept() is handled as in lesson 7.
 *
 *   node lessons/run.cjs 08-waitpid-loop.ts [--port 8888]
 *   ./bin/forkserve.js client --max-clients 20 --max-conns 1 --url http://127.0.0.1:8888/
 *   ps -o pid,ppid,stat,cmd --ppid PID      # nothing
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
  getsockname,
  listen,
  setsockopt,
  sigaction,
  socket,
  waitpid,
} from 'forkserve/posix';
import { describeStatus, fdName, handleRequest, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 08-waitpid-loop.ts [--sleep S] [--port 8888] [--host 127.0.0.1] [--backlog 1024]\n';

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
    let now = 0;
    for (;;) {
      let st;
      try {
        st = waitpid(-1, WNOHANG);
      } catch (err) {
        if ((err as { code?: string }).code === 'ECHILD') break; // no children left
        throw err;
      }
      if (st.pid === 0) break; // children remain, none has exited
      reaped++;
      now++;
      say('handler', `SIGCHLD #${signals}: reaped child ${st.pid} (${describeStatus(st)})`);
    }
    say('handler', `SIGCHLD #${signals}: ${now} reaped by this signal; forked ${forked}, reaped ${reaped}, not reaped ${forked - reaped}`);
  });
  say('parent', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}); SIGCHLD handler: waitpid(-1, WNOHANG) until nothing is left ...`);

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
