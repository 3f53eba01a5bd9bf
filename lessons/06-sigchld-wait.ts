/**
 * Lesson 6: reap from a SIGCHLD handler, and meet EINTR.
 *
 * The kernel sends SIGCHLD to the parent when a child exits. The handler
 * here calls waitpid(-1, 0) once, like Python's os.wait(), and is installed
 * without SA_RESTART. The first child exits while the parent is blocked in
 * accept(): the signal interrupts the call, the handler runs and reaps the
 * child, then accept() fails with EINTR. Nothing catches that error, so the
 * server stops.
 *
 *   node lessons/run.cjs 06-sigchld-wait.ts [--port 8888]
 *   curl http://127.0.0.1:8888/        # answered, then the server exits with status 1
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
import { describeError, describeStatus, fdName, handleRequest, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 06-sigchld-wait.ts [--sleep S] [--port 8888] [--host 127.0.0.1] [--backlog 1024]\n';

function main(): void {
  const opts = lessonOptions(USAGE, { backlog: 1024 });
  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  const { port } = getsockname(listenFd);

  // No { restart: true }: slow calls interrupted by this signal fail with EINTR.
  sigaction('SIGCHLD', () => {
    const st = waitpid(-1, 0); // one wait per signal
    say('handler', `SIGCHLD: reaped child ${st.pid} (${describeStatus(st)})`);
  });
  say('parent', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}); SIGCHLD handler installed without SA_RESTART ...`);

  for (;;) {
    const { fd, address } = accept(listenFd); // throws EINTR after the handler ran
    const pid = fork();
    if (pid === 0) {
      close(listenFd);
      handleRequest(fd, opts.sleep);
      close(fd);
      _exit(0);
    }
    close(fd);
    say('parent', `accepted fd ${fd} from ${address.address}:${address.port}, forked child ${pid}, closed fd ${fd}; back to accept()`);
  }
}

try {
  main();
} catch (err) {
  // What an uncaught exception does to the server: it is over.
  say('parent', `unhandled error, the server stops: ${describeError(err)}`);
  process.exit(1);
}
