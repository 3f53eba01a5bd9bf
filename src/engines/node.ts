/**
 * The `node` engine: the same app served by node:http (llhttp), the pure
 * Node reference every comparison is made against. With workers > 1 it uses
 * node:cluster, Node's own multi-process model: the primary re-runs this
 * program in N worker processes (spawned, not forked), and hands them the
 * connections it accepts on the socket forkserve bound.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import type { AppResponse, RequestInfo } from '../apps/index.js';
import { INTERNAL_ERROR } from '../apps/responses.js';
import { writeResponse } from './node-response.js';
import { createHttpServer, guardListener, type ListenerOptions } from './listener.js';
import type { EngineContext } from './types.js';

/**
 * The server of one process: a Node request listener as it is (guarded:
 * errors answered 500, access log, `listenerOptions`), or a WSGI/Fetch
 * request handler behind forkserve's adapter.
 */
function createServer(ctx: EngineContext, listenerOptions: ListenerOptions = {}): http.Server {
  const { options, log, app } = ctx;
  if (app.interface === 'node') return createHttpServer(guardListener(app.listener, log, listenerOptions), options);
  const handler = app.handler;
  const maxBody = options.maxBodyBytes ?? 2 ** 30;
  const server = createHttpServer(async (req, res) => {
    const tooLarge = () => {
      res.writeHead(413, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end('413 Content Too Large\n');
      req.socket.destroySoon();
    };
    // A declared length over the limit is refused before any body is read.
    if (Number(req.headers['content-length'] ?? 0) > maxBody) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBody) return tooLarge();
        chunks.push(chunk);
      }
    } catch {
      return; // the client went away mid-body ('aborted'): nothing to answer, and the server goes on
    }
    const info: RequestInfo = {
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      minorVersion: req.httpVersionMinor,
      headers: req.rawHeaders,
      body: Buffer.concat(chunks),
      remoteAddress: req.socket.remoteAddress ?? '',
      remotePort: req.socket.remotePort ?? 0,
      serverName: ctx.serverName,
      serverPort: ctx.serverPort,
    };
    let out: AppResponse;
    try {
      out = await handler(info);
    } catch (err) {
      log.error(`Error handling request ${info.method} ${info.target}: ${(err as Error)?.stack ?? String(err)}`);
      out = INTERNAL_ERROR;
    }
    let bytes = 0;
    try {
      bytes = await writeResponse(res, info.method, out);
    } catch (err) {
      log.error(`Error writing response to ${info.method} ${info.target}: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
    log.access({
      remote: info.remoteAddress.replace(/^::ffff:/, ''), method: info.method, target: info.target, minorVersion: info.minorVersion,
      status: out.status, bytes, referer: req.headers.referer, userAgent: req.headers['user-agent'],
    });
  }, options);
  return server;
}

/** One server per listening socket of ctx, each listening on its descriptor (listen({ fd })). */
async function listenAll(ctx: EngineContext, make: () => http.Server): Promise<http.Server[]> {
  return Promise.all(ctx.listenFds.map((fd) => {
    const server = make();
    return new Promise<http.Server>((resolve) => server.listen({ fd }, () => resolve(server)));
  }));
}

/** Resolves when SIGTERM (graceful: in-flight requests finish) or SIGINT/SIGQUIT stops the server. */
function untilStopped(servers: http.Server[], onStop: (signal: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.removeAllListeners(s);
      onStop(signal);
      let open = servers.length;
      for (const server of servers) {
        server.close(() => --open === 0 && resolve());
        server.closeIdleConnections();
        if (signal !== 'SIGTERM') server.closeAllConnections();
      }
      if (servers.length === 0) resolve();
    };
    for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.once(s, () => stop(s));
    // A cluster worker is told to stop by its primary closing the IPC channel.
    if (cluster.isWorker) process.once('disconnect', () => stop('SIGTERM'));
  });
}

/**
 * Serves until SIGTERM (graceful) or SIGINT/SIGQUIT. `listenerOptions`
 * applies to a Node request listener: the poll engine and prefork workers
 * serve one this way, in one process (workers: 1).
 */
export async function runNode(ctx: EngineContext, listenerOptions: ListenerOptions = {}): Promise<void> {
  const workers = ctx.options.workers ?? 1;
  if (workers <= 1) {
    // Serve on the sockets forkserve already bound (same address, same backlog): one http.Server each.
    const servers = await listenAll(ctx, () => createServer(ctx, listenerOptions));
    await untilStopped(servers, (sig) => ctx.log.info(`Stopped by ${sig}`));
    return;
  }
  if (cluster.isPrimary) {
    // A worker's listen({ fd }) is carried out by the primary, on its own
    // descriptor of that number: the socket forkserve bound. The primary then
    // hands connections to the workers (cluster's round-robin), and the
    // address never goes without a listener, even while a worker is replaced.
    const spawn = () => cluster.fork({ FORKSERVE_LISTEN_FD: ctx.listenFds.join(','), FORKSERVE_PORT: String(ctx.serverPort) });
    let stopping = false;
    for (let i = 0; i < workers; i++) spawn();
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      ctx.log.error(`Worker ${worker.process.pid} ${signal ? `killed by ${signal}` : `exited ${code}`}: replacing it`);
      spawn();
    });
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals) => {
        stopping = true;
        ctx.log.info(`Stopped by ${signal}`);
        // Graceful: disconnect() lets a worker finish its requests and exit.
        for (const w of Object.values(cluster.workers ?? {})) {
          if (signal === 'SIGTERM') w?.disconnect();
          else w?.process.kill('SIGKILL');
        }
        const check = () => (Object.keys(cluster.workers ?? {}).length === 0 ? resolve() : setTimeout(check, 20));
        check();
      };
      for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.once(s, () => stop(s));
    });
    return;
  }
  const servers = await listenAll(ctx, () => createServer(ctx));
  ctx.log.info(`Booting worker with pid: ${process.pid} (node:cluster)`);
  await untilStopped(servers, () => {});
  if (process.connected) process.disconnect(); // stopped by a signal of its own: let go of the primary
}
