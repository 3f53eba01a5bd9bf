/**
 * Lesson 2: a WSGI-style server. Still iterative, but the response now comes
 * from an application loaded from the command line (`module:app`, as
 * gunicorn takes it): the server builds the environ, hands the app a
 * startResponse callback, and formats the status line, the headers and the
 * body itself.
 *
 *   node lessons/run.cjs 02-wsgi.ts examples/hello.ts:app [--port 8888]
 *   curl -v http://127.0.0.1:8888/hello
 */
import { STATUS_CODES } from 'node:http';
import type { Environ, HeaderList, WsgiApp, WsgiBody } from 'forkserve';
import { buildEnviron } from '../dist/apps/wsgi.js';
import { loadApp } from 'forkserve';
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
import { errorText, fdName, lessonOptions, say } from './common.js';

const USAGE = 'Usage: node lessons/run.cjs 02-wsgi.ts MODULE[:APP] [--port 8888] [--host 127.0.0.1] [--backlog 5]\n';
const SERVER = 'forkserve-lesson/0.2';

interface Request {
  method: string;
  target: string;
  minorVersion: number;
  headers: string[];
  body: Buffer;
}

/**
 * Reads one request by hand: up to the blank line that ends the head, then
 * Content-Length bytes of body. Returns null if the client sent nothing
 * usable (closed early, or not HTTP/1.x).
 */
function readRequest(fd: number): Request | null {
  const buf = Buffer.alloc(4096);
  let data = Buffer.alloc(0);
  let headEnd = -1;
  while (headEnd < 0) {
    const n = recv(fd, buf);
    if (n === 0 || data.length > 65536) return null;
    data = Buffer.concat([data, buf.subarray(0, n)]);
    headEnd = data.indexOf('\r\n\r\n');
  }
  const lines = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.([01])$/.exec(lines[0]);
  if (!m) return null;
  const headers: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  let length = 0;
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === 'content-length') length = Number(headers[i + 1]) || 0;
  let body = data.subarray(headEnd + 4);
  while (body.length < length) {
    const n = recv(fd, buf);
    if (n === 0) break;
    body = Buffer.concat([body, buf.subarray(0, n)]);
  }
  return { method: m[1], target: m[2], minorVersion: Number(m[3]), headers, body: body.subarray(0, length) };
}

function toBuffer(chunk: string | Uint8Array): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Runs the app and formats the whole response: status line, headers, blank line, body. */
async function respond(app: WsgiApp, environ: Environ): Promise<Buffer> {
  let status = '';
  let headers: Array<[string, string]> = [];
  const written: Buffer[] = [];
  const startResponse = (s: string | number, h: HeaderList) => {
    status = typeof s === 'number' ? `${s} ${STATUS_CODES[s] ?? ''}`.trim() : s;
    headers = Array.isArray(h) ? h.map(([k, v]) => [String(k), String(v)] as [string, string]) : Object.entries(h).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, String(x)] as [string, string]));
    // The server's own headers, as a WSGI server adds them.
    headers.push(['Date', new Date().toUTCString()], ['Server', SERVER]);
    return (chunk: string | Uint8Array) => void written.push(toBuffer(chunk));
  };
  const result: WsgiBody = await app(environ, startResponse);
  const body: Buffer[] = [...written];
  if (typeof result === 'string' || result instanceof Uint8Array) body.push(toBuffer(result));
  else if (result != null) for await (const chunk of result as AsyncIterable<string | Uint8Array>) body.push(toBuffer(chunk));
  if (!status) throw new Error('the app returned without calling startResponse');
  let head = `HTTP/1.1 ${status}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), ...body]);
}

async function main(): Promise<void> {
  const opts = lessonOptions(USAGE, { backlog: 5 });
  if (opts.positionals.length !== 1) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  const { app } = await loadApp(opts.positionals[0]);
  if (typeof app !== 'function') {
    say('server', `${opts.positionals[0]} is a Fetch-style app; this lesson serves WSGI-style apps, app(environ, startResponse) (try examples/hello.ts:app)`);
    process.exit(2);
  }

  const listenFd = socket(opts.host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  setsockopt(listenFd, SOL_SOCKET, SO_REUSEADDR, 1);
  bind(listenFd, opts.host, opts.port);
  listen(listenFd, opts.backlog);
  const { port } = getsockname(listenFd);
  say('server', `Serving HTTP on ${opts.host} port ${port} (WSGI app ${opts.positionals[0]}, pid ${getpid()}, listening fd ${listenFd} = ${fdName(listenFd)}) ...`);

  for (;;) {
    const { fd, address } = accept(listenFd);
    try {
      const request = readRequest(fd);
      if (!request) {
        say('server', `fd ${fd}: no HTTP request from ${address.address}:${address.port}`);
        continue;
      }
      const environ = buildEnviron({ ...request, remoteAddress: address.address, remotePort: address.port, serverName: opts.host, serverPort: port }, false);
      let response: Buffer;
      try {
        response = await respond(app, environ);
      } catch (err) {
        say('server', `the app failed: ${(err as Error)?.stack ?? String(err)}`);
        response = Buffer.from('HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\nInternal Server Error\n');
      }
      sendall(fd, response);
      const statusLine = response.subarray(0, response.indexOf('\r\n')).toString('latin1');
      say('server', `fd ${fd}: ${address.address}:${address.port} "${request.method} ${request.target} HTTP/1.${request.minorVersion}" -> ${statusLine} (${response.length} bytes)`);
    } catch (err) {
      say('server', `fd ${fd}: ${errorText(err)}`);
    } finally {
      close(fd);
    }
  }
}

main().catch((err) => {
  say('server', `${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
