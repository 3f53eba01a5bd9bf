/**
 * Lesson 1: an iterative server. One process, one connection at a time:
 * socket, setsockopt(SO_REUSEADDR), bind, listen, then forever accept, read
 * the request, write the response, close.
 *
 *   node lessons/run.mjs 01-iterative.ts [--port 8888] [--host 127.0.0.1] [--backlog 5]
 *   curl -v http://127.0.0.1:8888/hello
 */
import {
  AF_INET,
  AF_INET6,
  SOCK_STREAM,
  SOL_SOCKET,
  SO_REUSEADDR,
  accept,
  bind,
  close,
  getpid,
  getsockname,
  listen,
  recv,
  sendall,
  setsockopt,
  socket,
} from 'forkserve/posix';
import { fdName, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.mjs 01-iterative.ts [--port 8888] [--host 127.0.0.1] [--backlog 5]\n';

// The body ends where the connection ends: no Content-Length, `Connection: close`.
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, World!\n');

/** Reads until the end of the request head (or end of stream, or 64 KiB). */
function readRequest(fd: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(1024);
  for (;;) {
    const n = recv(fd, buf);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
    if (Buffer.concat(chunks).includes('\r\n\r\n') || total >= 65536) break;
  }
  return Buffer.concat(chunks);
}

function main(): void {
  const opts = lessonOptions(USAGE, { backlog: 5 });
  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  // Without SO_REUSEADDR a restarted server fails with EADDRINUSE while the
  // previous run's connections sit in TIME_WAIT.
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  const { port } = getsockname(listenFd);
  say('server', `Serving HTTP on ${opts.host} port ${port} (pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}, backlog ${opts.backlog}) ...`);

  for (;;) {
    // Blocks until a client connects; returns a NEW descriptor for that connection.
    const { fd, address } = accept(listenFd);
    say('server', `accepted fd ${fd} (${fdName(fd)}) from ${address.address}:${address.port}`);
    const request = readRequest(fd);
    say('server', `request (${request.length} bytes):\n${request.toString('latin1').trimEnd()}`);
    try {
      sendall(fd, RESPONSE);
    } catch (err) {
      say('server', `sendall: ${(err as Error).message}`);
    }
    close(fd);
    say('server', `sent ${RESPONSE.length} bytes, closed fd ${fd}`);
  }
}

main();
