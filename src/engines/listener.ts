/**
 * Serving a Node request listener (`--interface node`: Express, connect,
 * Koa) on forkserve's descriptors. node:http parses such an app's requests
 * in the process that serves them; forkserve's native HTTP core is not used
 * (docs/interfaces.md says what that costs). Two ways in, one server:
 *  - a connection: the fork child's and the iterative server's accepted
 *    descriptor becomes a `net.Socket` handed to the server
 *    (`serveSocket`);
 *  - a listening socket: the poll engine, each prefork worker and the node
 *    engine serve the shared listening descriptor with `listen({ fd })`
 *    (engines/node.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { isThenable } from '../apps/body.js';
import { INTERNAL_ERROR, TIMED_OUT } from '../apps/responses.js';
import type { Logger } from '../log.js';
import { native } from '../native.js';
import type { EngineOptions } from './types.js';

export interface ListenerOptions {
  /** Keep connections open between requests. Default true; the iterative engine sets false. */
  keepAlive?: boolean;
  /** Seconds a request may go without response headers before it is answered 503 (0: none). */
  timeoutSeconds?: number;
  /** Called when a response has been sent (prefork heartbeats and request counts). */
  onResponse?: () => void;
}

/** Ends a response the app failed: 500 if nothing was sent, else the connection is cut. */
function fail(log: Logger, req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
  log.error(`Error handling request ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
  if (res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(INTERNAL_ERROR.status, [...INTERNAL_ERROR.headers, 'Connection', 'close']).end(INTERNAL_ERROR.body);
}

/**
 * Wraps the app's listener: a throw or a rejected promise is logged and
 * answered 500 (it would otherwise end the process), every response gets an
 * access-log line, and a request still without response headers after
 * `timeoutSeconds` is answered 503 with Connection: close.
 */
export function guardListener(listener: http.RequestListener, log: Logger, opts: ListenerOptions = {}): http.RequestListener {
  const timeoutMs = (opts.timeoutSeconds ?? 0) * 1000;
  return (req, res) => {
    if (opts.keepAlive === false) res.setHeader('Connection', 'close');
    res.setHeader('Server', 'forkserve');
    const timer = timeoutMs > 0 ? setTimeout(() => {
      if (res.headersSent) return;
      log.error(`Request timed out (--timeout ${timeoutMs / 1000} s): ${req.method} ${req.url}: answered 503`);
      native.countTimeout();
      res.on('error', () => {}); // the app's later writes are dropped
      res.writeHead(TIMED_OUT.status, TIMED_OUT.headers).end(TIMED_OUT.body);
    }, timeoutMs) : undefined;
    timer?.unref();
    res.once('close', () => {
      clearTimeout(timer);
      if (res.headersSent) native.countResponse(res.statusCode); // /metrics (native/engine/counters.h)
      const length = Number(res.getHeader('content-length'));
      log.access({
        remote: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''), method: req.method ?? '-', target: req.url ?? '-',
        minorVersion: req.httpVersionMinor, status: res.statusCode, bytes: Number.isFinite(length) ? length : 0,
        referer: req.headers.referer, userAgent: req.headers['user-agent'],
      });
      opts.onResponse?.();
    });
    try {
      const r = listener(req, res) as unknown;
      if (isThenable(r)) r.then(undefined, (err) => fail(log, req, res, err));
    } catch (err) {
      fail(log, req, res, err);
    }
  };
}

/** An http.Server with forkserve's limits (--limit-headers-size, --headers-timeout, --keep-alive). */
export function createHttpServer(listener: http.RequestListener, options: EngineOptions): http.Server {
  return http.createServer({
    maxHeaderSize: options.maxHeaderBytes ?? 16384,
    requireHostHeader: true,
    headersTimeout: options.headersTimeoutMs ?? 30000,
    requestTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 5000,
  }, listener);
}

/**
 * Serves the connection on descriptor `fd` (an accepted TCP socket) with
 * `server`; resolves when the connection has closed, its descriptor with
 * it. libuv takes the descriptor over (O_NONBLOCK is set on it).
 * `received`: bytes of the connection already read (by the fork parent,
 * --fork-after head), given to node:http before what the socket brings.
 */
export function serveSocket(server: http.Server, fd: number, received?: Buffer | null): Promise<void> {
  const socket = new net.Socket({ fd, readable: true, writable: true });
  // Bytes already read from fd (the fork parent waited for the head): node:http reads them first.
  if (received?.length) socket.unshift(received);
  return new Promise((resolve) => {
    socket.once('close', () => resolve());
    server.emit('connection', socket);
  });
}
