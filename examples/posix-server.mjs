// A forking server written with forkserve/posix, the course's part 3 in
// JavaScript: accept, fork, let the child answer, reap with a SIGCHLD
// handler that loops on waitpid(-1, WNOHANG) until no exited child is left.
// Run it with --single-threaded (docs/fork-in-node.md §2):
//   node --single-threaded examples/posix-server.mjs [PORT]
import {
  socket, setsockopt, bind, listen, accept, fork, close, _exit, sendall, getsockname,
  waitpid, WNOHANG, sigaction, AF_INET, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR,
} from 'forkserve/posix';

sigaction('SIGCHLD', () => {
  for (;;) {
    let status;
    try {
      status = waitpid(-1, WNOHANG);
    } catch (err) {
      if (err.code === 'ECHILD') return; // no child left at all
      throw err;
    }
    if (status.pid === 0) return; // children remain, none has exited
  }
});

const fd = socket(AF_INET, SOCK_STREAM);
setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
bind(fd, '127.0.0.1', Number(process.argv[2] ?? 8888));
listen(fd, 5);
console.log(`Serving HTTP on 127.0.0.1 port ${getsockname(fd).port} ...`);
for (;;) {
  let conn;
  try {
    conn = accept(fd);
  } catch (err) {
    if (err.code === 'EINTR') continue; // a SIGCHLD arrived while accept() waited
    throw err;
  }
  if (fork() === 0) {
    close(fd);
    sendall(conn.fd, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nhi\n'));
    _exit(0);
  }
  close(conn.fd);
}
