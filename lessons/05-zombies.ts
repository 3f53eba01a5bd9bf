/**
 * Lesson 5: zombies. The parent closes its descriptors now, but never calls
 * wait(). A child that exits keeps its process-table entry (pid, exit status,
 * resource usage) until its parent collects it: it is a zombie, state Z,
 * `<defunct>` in ps. Zombies count as processes, so enough of them make
 * fork() fail with EAGAIN, the error of RLIMIT_NPROC (--nproc N) or of a full
 * pids cgroup. The server then answers nothing: it closes the connection.
 *
 *   node lessons/run.cjs 05-zombies.ts [--nproc N] [--port 8888]    # as an ordinary user for --nproc
 *   for i in 1 2 3; do curl -s http://127.0.0.1:8888/; done
 *   ps -o pid,ppid,stat,cmd --ppid PID                               # three Z <defunct>
 *
 * RLIMIT_NPROC counts every process (every thread, on Linux) of the real
 * user, not just this server's children, and root (CAP_SYS_RESOURCE or
 * CAP_SYS_ADMIN) is exempt: run it as an ordinary user, see docs/lessons.md.
 */
import {
  AF_INET,
  AF_INET6,
  RLIMIT_NPROC,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
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
} from 'forkserve/posix';
import { describeError, fdName, handleRequest, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 05-zombies.ts [--nproc N] [--sleep S] [--port 8888] [--host 127.0.0.1] [--backlog 1024]\n';

function main(): void {
  const opts = lessonOptions(USAGE, { backlog: 1024 });
  if (opts.nproc !== null) {
    const { hard } = getrlimit(RLIMIT_NPROC);
    setrlimit(RLIMIT_NPROC, { soft: opts.nproc, hard });
    say('parent', `RLIMIT_NPROC soft limit set to ${opts.nproc} (processes and threads of uid ${process.getuid?.()}, all of them)`);
    if (process.getuid?.() === 0) say('parent', 'warning: running as root, which RLIMIT_NPROC does not limit: fork() will not fail; run as an ordinary user');
  }
  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  const { port } = getsockname(listenFd);
  say('parent', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}) ...`);

  let forked = 0;
  for (;;) {
    const { fd, address } = accept(listenFd);
    let pid: number;
    try {
      pid = fork();
    } catch (err) {
      // EAGAIN: no process may be created. The connection gets no answer.
      say('parent', `fork failed: ${describeError(err)}; ${forked} children forked, none reaped`);
      close(fd);
      say('parent', `closed fd ${fd} of ${address.address}:${address.port} unanswered`);
      continue;
    }
    if (pid === 0) {
      close(listenFd);
      handleRequest(fd, opts.sleep);
      close(fd);
      _exit(0);
    }
    close(fd);
    forked++;
    say('parent', `accepted fd ${fd} from ${address.address}:${address.port}, forked child ${pid}, closed fd ${fd}; ${forked} children forked, none reaped: each one that exits stays a zombie`);
  }
}

main();
