/**
 * The `node` engine: the same app served by node:http (llhttp), the pure
 * Node reference every comparison is made against. With workers > 1 it uses
 * node:cluster, Node's own multi-process model: the primary re-runs this
 * program in N worker processes (spawned, not forked), which accept on the
 * socket forkserve bound.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import type { AppResponse, RequestInfo } from '../apps/index.js';
import { writeResponse } from './node-response.js';
import { callHandler, logResponse, writeFailed } from './respond.js';
import { createHttpServer, guardListener, type ListenerOptions } from './listener.js';
import type { EngineContext } from './types.js';
import { reopenOnSigusr1 } from '../log.js';
import { native } from '../native.js';
import { ReapReasons } from './reap-reason.js';

/**
 * The server of one process: a Node request listener as it is (guarded:
 * errors answered 500, access log, `listenerOptions`), or a WSGI/Fetch
 * request handler behind forkserve's adapter.
 */
function createServer(ctx: EngineContext, listener: number, listenerOptions: ListenerOptions = {}): http.Server {
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
      serverName: ctx.servers[listener].name,
      serverPort: ctx.servers[listener].port,
    };
    const out: AppResponse = await callHandler(handler, info, log);
    let bytes = 0;
    try {
      bytes = await writeResponse(res, info.method, out);
    } catch (err) {
      writeFailed(log, info, err);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
    logResponse(log, info, out.status, bytes);
  }, options);
  return server;
}

/** One server per listening socket of ctx (make's argument is its index), each listening on its descriptor (listen({ fd })). */
async function listenAll(ctx: EngineContext, make: (listener: number) => http.Server): Promise<http.Server[]> {
  return Promise.all(ctx.listenFds.map((fd, i) => {
    const server = make(i);
    return new Promise<http.Server>((resolve) => server.listen({ fd }, () => resolve(server)));
  }));
}

/**
 * The node:cluster primary. A worker's listen({ fd }) is carried out by the
 * primary, on its own descriptor of that number: the socket forkserve
 * bound, which the primary sends to each worker. Workers accept on it
 * themselves (SCHED_NONE), as prefork's do: under cluster's round-robin the
 * primary accepts and queues connections for workers, and drops those
 * still queued when the last worker stops (a SIGWINCH, a binary upgrade).
 * The socket stays open in the primary while any worker runs. Signals, as the prefork master's: SIGTERM
 * (graceful), SIGINT/SIGQUIT (fast), SIGHUP (new workers replace the old,
 * gracefully), and a binary upgrade's SIGUSR2 (a new master), SIGWINCH
 * (every worker stops, gracefully) and SIGHUP (workers again).
 */
async function runPrimary(ctx: EngineContext, workers: number): Promise<void> {
  const { log, master } = ctx;
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  const spawn = () => cluster.fork({ FORKSERVE_LISTEN_FD: ctx.listenFds.join(','), FORKSERVE_SERVERS: JSON.stringify(ctx.servers) });
  /** Workers told to stop (SIGHUP, SIGWINCH, a stop): their exit is not replaced. */
  const retiring = new Set<number>();
  let stopping = false;
  let paused = false;
  const retireAll = () => {
    for (const w of Object.values(cluster.workers ?? {})) {
      if (!w || retiring.has(w.id)) continue;
      retiring.add(w.id);
      // Its own graceful stop (closeGracefully); disconnect() would close its idle connections at once.
      w.process.kill('SIGTERM');
    }
  };
  for (let i = 0; i < workers; i++) spawn();
  const reasons = new ReapReasons();
  const timeoutSeconds = ctx.options.timeout ?? 30;
  cluster.on('exit', (worker, code, signal) => {
    const pid = worker.process.pid ?? 0;
    const { reason, how } = reasons.reaped({ pid, exited: signal === null, exitCode: signal === null ? code : null, signaled: signal !== null, signal, coreDumped: false, stopped: false }, timeoutSeconds);
    if (retiring.delete(worker.id) || stopping) {
      if (reason === 'memory') log.info(`Worker ${pid} exited: ${how}`);
      return;
    }
    log.error(`Worker ${pid} ${how}: replacing it`);
    spawn();
  });
  // --max-worker-rss: a worker past the bound gets a successor, then finishes its requests and exits (as prefork's, checked each second).
  const boundBytes = (ctx.options.maxWorkerRssMiB ?? 0) * 2 ** 20;
  const rssCheck = boundBytes > 0 ? setInterval(() => {
    for (const w of Object.values(cluster.workers ?? {})) {
      const pid = w?.process.pid;
      if (!w || !pid || retiring.has(w.id) || stopping || paused) continue;
      const rss = native.residentBytes(pid);
      if (rss === null || rss <= boundBytes) continue;
      log.info(`Worker ${pid} uses ${Math.round(rss / 2 ** 20)} MiB, over --max-worker-rss ${ctx.options.maxWorkerRssMiB} MiB: replacing it gracefully`);
      reasons.recycledForMemory(pid);
      spawn();
      retiring.add(w.id);
      w.process.kill('SIGTERM'); // closeGracefully: its requests in flight finish
    }
  }, 1000) : undefined;
  rssCheck?.unref();
  const onUpgrade = () => master?.upgrade();
  const onWinch = () => {
    if (!master?.pauseOnWinch || paused) return;
    paused = true;
    log.info('SIGWINCH: stopping every worker gracefully; the listening sockets stay open (SIGHUP starts workers again)');
    retireAll();
  };
  const onHup = () => {
    log.info(paused ? 'Hang up: starting workers again' : 'Hang up: new workers replace the old, gracefully');
    if (!paused) retireAll();
    paused = false;
    for (let i = 0; i < workers; i++) spawn();
  };
  const unwatch = master?.watchSuccessor();
  // SIGUSR1: the primary reopens its log files, then each worker its own.
  reopenOnSigusr1(log, { announce: true, forward: () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGUSR1');
  } });
  // Signal listeners keep no event loop alive: with every worker stopped (SIGWINCH) the primary must still wait.
  const keepAlive = setInterval(() => {}, 1 << 30);
  process.on('SIGUSR2', onUpgrade);
  process.on('SIGWINCH', onWinch);
  process.on('SIGHUP', onHup);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      stopping = true;
      log.info(`Stopped by ${signal}`);
      // Graceful: a worker's SIGTERM lets it finish its requests and exit (closeGracefully).
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL');
      const check = () => (Object.keys(cluster.workers ?? {}).length === 0 ? resolve() : setTimeout(check, 20));
      check();
    };
    for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.once(s, () => stop(s));
    ctx.replayStopSignals?.();
  });
  process.off('SIGUSR2', onUpgrade);
  process.off('SIGWINCH', onWinch);
  process.off('SIGHUP', onHup);
  clearInterval(keepAlive);
  clearInterval(rssCheck);
  unwatch?.();
}

/**
 * A connection idle between requests stays open this long after a graceful
 * stop, for one more request (answered with Connection: close), as the
 * native engines do (native/engine/stop.h, kStopIdleMs): closing it at once
 * loses a request the client sent in the same instant.
 */
const STOP_IDLE_MS = 1000;

/**
 * Stops a server as a graceful stop should: no more connections; requests
 * in progress, and those that come on idle connections within STOP_IDLE_MS,
 * are answered with Connection: close; then the idle are closed.
 * http.Server.close() would close the idle ones at once (Node 19 and later).
 */
function closeGracefully(server: http.Server, done: () => void): void {
  server.prependListener('request', (_req, res: http.ServerResponse) => {
    res.shouldKeepAlive = false;
  });
  net.Server.prototype.close.call(server, () => done());
  setTimeout(() => server.closeIdleConnections(), STOP_IDLE_MS).unref();
}

/** Resolves when SIGTERM (graceful) or SIGINT/SIGQUIT stops the server. */
function untilStopped(servers: http.Server[], onStop: (signal: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      for (const s of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.removeAllListeners(s);
      onStop(signal);
      let open = servers.length;
      const closed = () => --open === 0 && resolve();
      for (const server of servers) {
        if (signal === 'SIGTERM') closeGracefully(server, closed);
        else {
          server.close(closed);
          server.closeAllConnections();
        }
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
    const servers = await listenAll(ctx, (i) => createServer(ctx, i, listenerOptions));
    const { master } = ctx;
    // A single process has no workers to stop: SIGUSR2 starts a new master, SIGTERM then ends this one.
    const upgrade = () => master?.upgrade();
    const unwatch = master?.watchSuccessor();
    if (master) process.on('SIGUSR2', upgrade);
    const stopped = untilStopped(servers, (sig) => ctx.log.info(`Stopped by ${sig}`));
    ctx.replayStopSignals?.();
    await stopped;
    process.off('SIGUSR2', upgrade);
    unwatch?.();
    return;
  }
  if (cluster.isPrimary) {
    await runPrimary(ctx, workers);
    return;
  }
  const servers = await listenAll(ctx, (i) => createServer(ctx, i));
  ctx.log.info(`Booting worker with pid: ${process.pid} (node:cluster)`);
  await untilStopped(servers, () => {});
  if (process.connected) process.disconnect(); // stopped by a signal of its own: let go of the primary
}
