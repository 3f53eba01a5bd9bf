/**
 * The poll engine: one process serves many connections at once, the
 * multiplexing server of the selectors notes done natively. The event loop
 * (epoll on Linux, kqueue on macOS, over non-blocking sockets) runs in the
 * addon (native/engine/poll_loop.cc) and is driven from Node's own event
 * loop (native/binding/poll_glue.cc), so the JS thread never blocks in it:
 * while one handler awaits a timer, a file or a fetch, other connections
 * are read, parsed and answered. Bad requests (400, 408, 413, 414, 431, 501,
 * 505) are answered natively without calling JS. See docs/engines-poll.md.
 */
import { native, type RawRequest } from '../native.js';
import { sigaction, type SignalName } from '../signals.js';
import type { AppResponse, RequestInfo } from '../apps/index.js';
import { INTERNAL_ERROR, TIMED_OUT } from '../apps/responses.js';
import { callHandler, logResponse, writeFailed } from './respond.js';
import { FileBody } from '../apps/file-body.js';
import type { HttpLimits } from './connection.js';
import { runNode } from './node.js';
import type { EngineContext } from './types.js';

/** A request as the native loop hands it out: `Connection.readRequest()`'s shape plus the peer. */
export interface PollRequest extends RawRequest {
  remoteAddress: string;
  remotePort: number;
}

/** What the native loop calls, always from Node's event loop (never from inside a method of the server). */
export interface PollCallbacks {
  /**
   * A whole request (body included) arrived on connection `connId`: the
   * fields of a `PollRequest`, positional (a JS object literal is cheaper to
   * build than properties set from C++). Answer it with `respond()`, then
   * `write()`/`end()` if the body streams. The next request of the same
   * connection (pipelined or keep-alive) is only parsed after this response
   * has ended, so responses go out in order. A body of length 0 is one
   * shared empty Buffer. `listener`: the index in the listening
   * descriptors of the one the connection came on.
   */
  onRequest(
    connId: number, method: string, target: string, minorVersion: number, headers: string[], body: Buffer,
    keepAlive: boolean, remoteAddress: string, remotePort: number, listener: number,
  ): void;
  /** Connection `connId`, which had reached `onRequest`, is closed. */
  onClose?(connId: number): void;
  /** After `write()` returned 0: the output drained, or the connection closed. Write again (it says which). */
  onDrain?(connId: number): void;
  /** Bad input was answered natively with `status`; the connection closes. */
  onRejected?(status: number, remoteAddress: string, remotePort: number): void;
  /** A syscall of the loop failed (`accept`: EMFILE...); the loop goes on. */
  onError?(err: Error): void;
  /** `stop()` has finished: no connection is left, and the loop no longer holds the process. */
  onStopped?(): void;
}

/** `new native.PollServer(listenFds, limits, callbacks)`: serving starts at once, on every listener. */
export interface NativePollServer {
  /**
   * Sends the response head of connection `connId` (adding Date, Server, and
   * Content-Length or chunked framing unless set), with the whole body when
   * `body` is a Buffer; with `null` the body streams with `write()`/`end()`.
   * Returns the body bytes the response carries (0 for HEAD, 204, 304 or a
   * stream), or -1 when the connection is gone. Throws TypeError for an
   * invalid field (nothing was sent; respond again), and an Error with code
   * `ERR_INVALID_STATE` when the connection is not waiting for a response
   * (answered already, or streaming).
   */
  respond(connId: number, status: number, reason: string | undefined, headers: string[], body: Buffer | null): number;
  /**
   * Like respond(), with a file range as the body, sent natively with
   * sendfile(2) at most 2 MiB per turn of the loop. The descriptor is the
   * connection's from then on (closed when sent or gone), unless this
   * throws TypeError (invalid field: nothing was sent). A file that changes
   * during the transfer closes the connection short of its Content-Length.
   */
  respondFile(connId: number, status: number, reason: string | undefined, headers: string[], file: FileBody): number;
  /** Sends part of a streamed body. Returns 1 (go on), 0 (wait for onDrain), -1 (the connection is gone). ERR_INVALID_STATE when none streams. */
  write(connId: number, chunk: Buffer): number;
  /** Ends a streamed body. Returns its body bytes, or -1 when the connection is gone. ERR_INVALID_STATE when none streams. */
  end(connId: number): number;
  /** Closes the connection now (a response that failed midway). */
  close(connId: number): void;
  /**
   * Stops accepting. Graceful: the connections already in the accept
   * queues are accepted and served, idle connections get 1 s for one more
   * request, requests in progress finish (their responses say Connection:
   * close); not graceful: every connection closes now. `onStopped` follows
   * when none is left. `refuseNew` (the server's own stop, not a worker's):
   * no connection is queued while the queues are drained, and new ones are
   * refused after, for every process sharing the sockets (Linux).
   */
  stop(graceful: boolean, refuseNew?: boolean): void;
  /** Open connections. */
  readonly connections: number;
  /** Requests handed to onRequest so far. */
  readonly requests: number;
  /** False once stopped. */
  readonly running: boolean;
}

export type NativePollServerClass = new (listenFds: number | number[], limits: HttpLimits, callbacks: PollCallbacks) => NativePollServer;

const PollServer = native.PollServer as NativePollServerClass;

const STOP_SIGNALS: SignalName[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];


/**
 * Serves until SIGTERM (graceful: stop accepting, finish the responses in
 * progress, close idle connections; at most `gracefulTimeout` seconds) or
 * SIGINT/SIGQUIT (close everything now). Resolves once stopped, with the
 * signal dispositions restored.
 *
 * A handler that has not returned its response `timeout` seconds after it
 * was called (checked every second; 0: no limit) is answered 503 with Connection: close,
 * and what it returns later is dropped; the other connections go on. A
 * handler that blocks the JS thread cannot be answered from JS: in prefork
 * the master's heartbeat timeout kills that worker.
 */
export async function runPoll(ctx: EngineContext): Promise<void> {
  const { log, options, servers, master } = ctx;
  // A Node request listener is parsed by node:http: this process serves the
  // listening socket with libuv's event loop instead of the native one.
  if (ctx.app.interface === 'node') {
    return runNode({ ...ctx, options: { ...options, workers: 1 } }, { timeoutSeconds: options.timeout ?? 30 });
  }
  const handler = ctx.app.handler;
  const drained = new Map<number, () => void>();
  const timeoutMs = (options.timeout ?? 30) * 1000;
  /** Requests whose handler has not returned yet, by connection, in the order they were called; the sweep removes those it answered. */
  const waiting = new Map<number, { started: number; req: RequestInfo }>();
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));

  const server: NativePollServer = new PollServer(ctx.listenFds, options, {
    onRequest(connId, method, target, minorVersion, headers, body, keepAlive, remoteAddress, remotePort, listener) {
      const server = servers[listener];
      const req: PollRequest & RequestInfo = {
        method, target, minorVersion, headers, body, keepAlive, remoteAddress, remotePort, serverName: server.name, serverPort: server.port,
      };
      void serveRequest(connId, req);
    },
    onDrain(connId) {
      const wake = drained.get(connId);
      if (wake) {
        drained.delete(connId);
        wake();
      }
    },
    onRejected(status, remoteAddress) {
      log.access({ remote: remoteAddress, method: '-', target: '-', minorVersion: 1, status, bytes: 0 });
    },
    onError(err) {
      log.error(err.message);
    },
    onStopped() {
      stopped();
    },
  });

  // Streams a body; returns its bytes, or -1 when the peer went away.
  async function stream(connId: number, body: AsyncIterable<Buffer>): Promise<number> {
    for await (const chunk of body) {
      const r = server.write(connId, chunk);
      // Backpressure: the socket is not taking it as fast as the app makes it.
      if (r === 0) await new Promise<void>((resolve) => drained.set(connId, resolve));
      if (r < 0) return -1;
    }
    return server.end(connId);
  }

  const logAccess = (req: RequestInfo, status: number, bytes: number) => logResponse(log, req, status, bytes);

  // --timeout 0: no limit, as for the fork engine's watchdog.
  const sweep = timeoutMs <= 0 ? undefined : setInterval(() => {
    const now = Date.now();
    for (const [connId, w] of waiting) {
      if (now - w.started < timeoutMs) break;  // the rest started later
      waiting.delete(connId);
      log.error(`Request timed out (--timeout ${timeoutMs / 1000} s): ${w.req.method} ${w.req.target}: answered 503`);
      native.countTimeout();
      logAccess(w.req, 503, server.respond(connId, TIMED_OUT.status, undefined, TIMED_OUT.headers, TIMED_OUT.body as Buffer));
    }
  }, Math.min(1000, timeoutMs));
  sweep?.unref();

  // Calls the app. A synchronous app is answered at once, inside this call
  // from native code (no promise, no microtask); an asynchronous one when
  // its promise settles, unless the sweep answered 503 first.
  function serveRequest(connId: number, req: RequestInfo): void {
    const r = callHandler(handler, req, log);
    if (!(r instanceof Promise)) {
      send(connId, req, r);
      return;
    }
    waiting.set(connId, { started: Date.now(), req });
    r.then((res) => {
      // Gone from the map: the sweep answered 503. (A connection's next request
      // is only parsed once this response ends, so connId is this request's.)
      if (waiting.delete(connId)) send(connId, req, res);
      else if (res.body instanceof FileBody) res.body.close();
    });
  }

  // Writes the response. Never throws: every failure is logged, and answered when possible.
  function send(connId: number, req: RequestInfo, res: AppResponse): void {
    let status = res.status;
    let bytes = 0;
    let headSent = false;
    try {
      if (Buffer.isBuffer(res.body)) {
        bytes = server.respond(connId, res.status, res.reason, res.headers, res.body);
        headSent = true;
      } else if (res.body instanceof FileBody) {
        bytes = server.respondFile(connId, res.status, res.reason, res.headers, res.body);
        headSent = true;
      } else {
        bytes = server.respond(connId, res.status, res.reason, res.headers, null);
        headSent = true;
        if (bytes >= 0) {
          stream(connId, res.body).then((b) => logAccess(req, status, b), (err) => {
            writeFailed(log, req, err);
            server.close(connId);
            logAccess(req, status, 0);
          });
          return;
        }
      }
    } catch (err) {
      writeFailed(log, req, err);
      // A refused head (invalid field) sent nothing: answer 500. A body that
      // failed midway can only be cut short: close the connection.
      if (headSent) {
        server.close(connId);
      } else {
        if (res.body instanceof FileBody) res.body.close();
        status = 500;
        bytes = server.respond(connId, 500, undefined, INTERNAL_ERROR.headers, INTERNAL_ERROR.body as Buffer);
      }
    }
    logAccess(req, status, bytes);
  }

  let stopSignal: SignalName | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: SignalName) => {
    if (signal === 'SIGTERM') {
      if (stopSignal) return;  // already stopping
      stopSignal = signal;
      log.info(`SIGTERM: finishing ${server.connections} open connection(s), accepting no more`);
      // The server's own stop, not a prefork worker's or an old master's (its successor serves the sockets).
      server.stop(true, master !== undefined && !master.socketsShared());
      graceTimer = setTimeout(() => {
        log.error(`Graceful timeout: closing ${server.connections} connection(s)`);
        server.stop(false);
      }, (options.gracefulTimeout ?? 30) * 1000);
      return;
    }
    stopSignal = signal;
    server.stop(false);
  };
  for (const s of STOP_SIGNALS) sigaction(s, onSignal);
  ctx.replayStopSignals?.();
  // Standalone (not a prefork worker): SIGUSR2 starts a new master (src/upgrade.ts); SIGTERM then ends this one.
  const unwatch = master?.watchSuccessor();
  if (master) sigaction('SIGUSR2', () => master.upgrade());
  try {
    await done;
  } finally {
    clearTimeout(graceTimer);
    clearInterval(sweep);
    for (const s of STOP_SIGNALS) sigaction(s, 'default');
    if (master) sigaction('SIGUSR2', 'default');
    unwatch?.();
  }
  log.info(`Stopped by ${stopSignal ?? 'request'}`);
}
