/**
 * The iterative engine: the course's first server. One process accepts,
 * serves and closes one connection at a time; the accept is native
 * (native/engine/accept.cc) and stops on SIGTERM, SIGINT or SIGQUIT. Every
 * response closes its connection: a persistent one would keep every other
 * client waiting.
 */
import { native } from '../native.js';
import { dispatchSignals } from '../signals.js';
import { serveConnection } from './connection.js';
import { createHttpServer, guardListener, serveSocket } from './listener.js';
import type { EngineContext } from './types.js';

/** A connection; null: a stop signal came; undefined: a signal for a TypeScript handler (SIGUSR1) came. */
type Accepted = { fd: number; address: { address: string; port: number }; listener: number } | null | undefined;

export async function runIterative(ctx: EngineContext): Promise<void> {
  const acceptNext = native.acceptNext as (fds: number[]) => Accepted;
  const { app } = ctx;
  // A Node request listener: node:http parses each accepted connection here.
  const nodeServer = app.interface === 'node'
    ? createHttpServer(guardListener(app.listener, ctx.log, { keepAlive: false }), ctx.options)
    : undefined;
  (native.installStopHandlers as (fast: boolean) => void)(true);
  ctx.replayStopSignals?.();
  try {
    for (let conn = acceptNext(ctx.listenFds); conn !== null; conn = acceptNext(ctx.listenFds)) {
      if (conn === undefined) {
        dispatchSignals();
        continue;
      }
      if (app.interface === 'node') {
        await serveSocket(nodeServer!, conn.fd);
        continue;
      }
      await serveConnection(conn.fd, {
        handler: app.handler,
        log: ctx.log,
        serverName: ctx.servers[conn.listener].name,
        serverPort: ctx.servers[conn.listener].port,
        remoteAddress: conn.address.address,
        remotePort: conn.address.port,
        limits: { ...ctx.options, keepAlive: false },
        timeoutSeconds: 0, // the watchdog ends its process: here that is the server
      });
      // A sync app never leaves the microtask queue, and acceptNext blocks:
      // let Node's event loop turn once per connection, or what it runs from
      // there (Node-API finalizers, signal dispatch, immediates) never runs
      // and memory grows with every connection.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    ctx.log.info(`Stopped by ${(native.stopSignal as () => string | null)() ?? 'request'}`);
  } finally {
    (native.removeStopHandlers as () => void)();
  }
}
