/**
 * serve(app, options): runs an app on one of forkserve's engines.
 */
import type { RequestListener } from 'node:http';
import { installLightweightResponse } from './apps/response.js';
import { bindInterface, toServed, type App, type InterfaceName, type Served } from './apps/index.js';
import { openListener, parseBindTarget, systemdListener, systemdListenFds, upgradeListener, type Listener } from './listen.js';
import { Master, takeUpgradeFds } from './upgrade.js';
import { holdStopSignals, sigaction } from './signals.js';
import { sdNotify } from './notify.js';
import { compileTrust, withForwarded, type Trust } from './apps/forwarded.js';
import fs from 'node:fs';
import type { StaticApp } from './static/serve-static.js';
import { createLogger, reopenOnSigusr1, type LogFiles, type LogLevel, type Logger } from './log.js';
import { close, getpid, type SockAddr } from './posix.js';
import os from 'node:os';
import cluster from 'node:cluster';
import { native } from './native.js';
import { runFork } from './engines/fork.js';
import { runIterative } from './engines/iterative.js';
import { runPrefork } from './engines/prefork.js';
import { runNode } from './engines/node.js';
import { warmUp } from './engines/warmup.js';
import { quiesce } from './engines/quiesce.js';
import type { EngineContext, EngineOptions, ServerAddress } from './engines/types.js';

export type EngineName = 'iterative' | 'fork' | 'prefork' | 'poll' | 'node';
export const ENGINES: readonly EngineName[] = ['iterative', 'fork', 'prefork', 'poll', 'node'];

export interface ServeOptions extends EngineOptions, LogFiles {
  /** Process model. Default 'fork'. */
  engine?: EngineName;
  /** Numeric address to listen on. Default '127.0.0.1'. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8888. */
  port?: number;
  /**
   * Where to listen, as --bind takes it (overrides host and port):
   * HOST:PORT, [IPv6]:PORT, :PORT, PORT, unix:PATH, fd://N; several in an
   * array, all served by every engine (a request's SERVER_NAME and
   * SERVER_PORT are those of the socket it came on). Sockets passed by systemd (LISTEN_FDS, sd_listen_fds(3))
   * take precedence.
   */
  bind?: string | string[];
  /**
   * SO_REUSEPORT on a TCP listener: several servers (instances, or an old
   * and a new one during a restart) bind the same address and the kernel
   * spreads new connections among them. Default false.
   */
  reusePort?: boolean;
  /** Write the master's pid to this file while serving (removed at exit), as gunicorn's --pid. */
  pidFile?: string;
  /**
   * Peers whose X-Forwarded-For/X-Forwarded-Proto and Forwarded (RFC 7239)
   * fields are believed, for WSGI and Fetch apps: comma-separated
   * addresses or CIDR ranges, '*' for any. Default: $FORWARDED_ALLOW_IPS,
   * else '127.0.0.1,::1' (gunicorn's). See src/apps/forwarded.ts.
   */
  forwardedAllowIps?: string;
  /** listen(2) backlog. Default 2048 (gunicorn's). */
  backlog?: number;
  /** Write access-log lines. Default true. Where they go, and the other lines: accessLogFile, errorLogFile (SIGUSR1 reopens them). */
  accessLog?: boolean;
  /** 'debug' | 'info' (default) | 'warning' | 'error': gunicorn's levels. A fork child's clean exit is logged at debug. */
  logLevel?: LogLevel;
  /** Called once listening, with the bound address (useful with port 0). */
  onListening?: (address: SockAddr) => void;
  /** fork and prefork: loads the app again on SIGHUP, inside an object (an app may be thenable, so it is never a promise's value). The CLI re-imports the module. */
  reload?: () => Promise<{ app: unknown }>;
  logger?: Logger;
  /**
   * The app's interface: 'wsgi', 'fetch', 'node' (a request listener
   * (req, res): Express, connect, Koa), or 'auto' (default), detected from
   * the app (src/apps/interface.ts).
   */
  interface?: InterfaceName | 'auto';
}

/** A request handler that believes trusted proxies' forwarding fields; a Node listener as it is (Express has its own `trust proxy`). */
function withProxyTrust(served: Served, trust: Trust): Served {
  return served.interface === 'node' ? served : { interface: served.interface, handler: withForwarded(served.handler, trust) };
}

/** Warm-up and quiescence before the first fork (engines/warmup.ts, engines/quiesce.ts). */
async function prepareToFork(log: Logger): Promise<void> {
  await warmUp();
  const pending = await quiesce();
  if (pending.length) log.error(`Forking with async work still pending in the parent: ${pending.join(', ')}`);
}

/**
 * Serves `app` (a WSGI function, a Fetch object, a Node request
 * listener, or serveStatic()'s files, alone or in front of one of them) until the server is stopped by SIGTERM (graceful) or
 * SIGINT/SIGQUIT (fast). Resolves in the parent when it has stopped. The
 * fork engine's parent runs in native code and does not return to the
 * event loop while serving. Throws SystemError (EADDRINUSE, EACCES) when it
 * cannot listen, TypeError for a bad app, interface or option.
 */
export async function serve(app: App | RequestListener | StaticApp, options: ServeOptions = {}): Promise<void> {
  const engine = options.engine ?? 'fork';
  if (!ENGINES.includes(engine)) throw new TypeError(`Unknown engine "${engine}": expected one of ${ENGINES.join(', ')}`);
  const trust = compileTrust(options.forwardedAllowIps ?? process.env.FORWARDED_ALLOW_IPS ?? '127.0.0.1,::1');
  const served: Served = withProxyTrust(toServed(bindInterface(app, options.interface ?? 'auto')), trust);
  if (options.proxyProtocol && (engine === 'node' || served.interface === 'node')) {
    throw new TypeError('--proxy-protocol needs forkserve\'s native HTTP core: it cannot be used with the node engine or a Node request listener (node:http reads those connections)');
  }
  // A Fetch app's Responses: built lazily, read without a stream (apps/response.ts).
  if (served.interface === 'fetch') installLightweightResponse();
  const name = options.appName ?? 'app';
  const log = options.logger ?? createLogger({ accessLog: options.accessLog, level: options.logLevel, accessLogFile: options.accessLogFile, errorLogFile: options.errorLogFile });
  const opts: ServeOptions = { ...options };
  if ((engine === 'prefork' || (engine === 'node' && options.workers !== undefined)) && opts.workers === undefined) opts.workers = os.availableParallelism();
  if (engine === 'node' && cluster.isWorker) {
    // A node:cluster worker: it serves on the socket the primary bound.
    const listenFds = (process.env.FORKSERVE_LISTEN_FD ?? '-1').split(',').map(Number);
    const servers = JSON.parse(process.env.FORKSERVE_SERVERS ?? '[]') as ServerAddress[];
    process.title = `forkserve: worker [${name}]`;
    reopenOnSigusr1(log);
    await runNode({ listenFd: listenFds[0], listenFds, app: served, log, servers, options: opts });
    return;
  }
  // Warm up and settle before listening: the first "Listening at" line means ready.
  if (engine !== 'node') await prepareToFork(log);
  const upgrade = takeUpgradeFds();
  const listeners = listenersFor(opts, upgrade?.fds);
  const { fd, address } = listeners[0];
  const master = new Master(listeners.map((l) => l.fd), log, opts.pidFile, upgrade?.oldMaster);
  // Ready from the first "Listening at" line: the pid file is there, and
  // SIGUSR2 means an upgrade (its default action would end the master)
  // until the engine takes the signal over.
  if (master.ownPidFile) fs.writeFileSync(master.ownPidFile, `${getpid()}\n`);
  // The counters /metrics reads (requests by status class, reaps by reason,
  // timeouts: native/engine/counters.h), shared with every process forked
  // from here. The node engine's workers are exec'd by node:cluster: they do not share them.
  if (engine !== 'node') {
    try {
      native.countersCreate();
    } catch (err) {
      log.error(`No request counters for /metrics: ${(err as Error).message}`);
    }
  }
  sigaction('SIGUSR2', () => (engine === 'iterative'
    ? log.error('SIGUSR2 ignored: the iterative engine serves one connection at a time and has no binary upgrade (use fork, prefork, poll or node)')
    : master.upgrade()));
  // SIGUSR1: the log files are opened again (the node engine's primary also tells its workers; prefork's is native).
  reopenOnSigusr1(log, { announce: true });
  // The fork and prefork loops are entered without a turn of the event loop
  // from here: these handlers only count a stop, reload or pause that comes
  // first, and the native loop takes the count (its default action would end
  // a master that is still starting).
  if (engine === 'fork' || engine === 'prefork') for (const sig of ['SIGTERM', 'SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGWINCH'] as const) sigaction(sig, () => {});
  // The other engines take stop signals in TypeScript or in node:http: one
  // that comes before their handlers is held, and raised again for them.
  const replayStopSignals = engine === 'fork' || engine === 'prefork' ? undefined : holdStopSignals();
  for (const l of listeners) log.info(`Listening at: ${l.label} (${getpid()})${INHERITED[l.inherited ?? ''] ? ` (${INHERITED[l.inherited ?? '']}, fd ${l.fd})` : ''}`);
  log.info(`Using engine: ${engine}${opts.workers ? ` with ${opts.workers} workers` : ''}`);
  opts.onListening?.(address);
  process.title = `forkserve: master [${name}]`;
  const masterPid = getpid();
  // An AF_UNIX socket has no address: SERVER_NAME is the Host header's business then.
  const servers = listeners.map((l): ServerAddress => (l.address.family === 'unix' ? { name: 'localhost', port: 0 } : { name: l.address.address, port: l.address.port }));
  const reload = opts.reload;
  const ctx: EngineContext = {
    listenFd: fd, listenFds: listeners.map((l) => l.fd), app: served, log, servers, options: opts,
    master,
    replayStopSignals,
    reload: reload && (async () => {
      const next = withProxyTrust(toServed(bindInterface((await reload()).app, opts.interface ?? 'auto')), trust);
      if (engine !== 'node') await prepareToFork(log);
      return next;
    }),
  };
  sdNotify(`READY=1\nMAINPID=${masterPid}`, (m) => log.error(m));
  try {
    switch (engine) {
      case 'iterative': await runIterative(ctx); break;
      case 'fork': await runFork(ctx); break;
      case 'prefork': await runPrefork(ctx); break;
      case 'poll': {
        const { runPoll } = await import('./engines/poll.js');
        await runPoll(ctx);
        break;
      }
      case 'node': await runNode(ctx); break;
    }
  } finally {
    // node:http's servers took the descriptors over (listen({ fd })) and closed them.
    if (engine !== 'node') for (const l of listeners) close(l.fd);
    if (getpid() === masterPid) {
      sdNotify('STOPPING=1', (m) => log.error(m));
      if (master.successor) {
        // A binary upgrade: the new master goes on with the sockets and the pid file.
        log.info(`The new master ${master.successor} goes on serving`);
        master.handOver();
      } else {
        for (const l of listeners) l.cleanup();
        if (opts.pidFile) for (const file of [opts.pidFile, `${opts.pidFile}.2`]) removePidFile(file);
      }
    }
  }
}

/** How an inherited listener is named in the "Listening at" line. */
const INHERITED: Record<string, string> = { systemd: 'socket from systemd', upgrade: 'socket from the old master' };

/**
 * The sockets to serve: an old master's (FORKSERVE_FDS, a binary upgrade),
 * else systemd's (LISTEN_FDS), else each `bind` (or host and port) names.
 * Throws SystemError as openListener (closing those already opened).
 */
function listenersFor(opts: ServeOptions, upgradeFds?: number[]): Listener[] {
  if (upgradeFds) return upgradeFds.map(upgradeListener);
  const fds = systemdListenFds();
  if (fds.length > 0) return fds.map(systemdListener);
  const binds = opts.bind === undefined ? [] : Array.isArray(opts.bind) ? opts.bind : [opts.bind];
  const targets = binds.length ? binds.map(parseBindTarget) : [{ kind: 'tcp' as const, host: opts.host ?? '127.0.0.1', port: opts.port ?? 8888, allInterfaces: false }];
  const out: Listener[] = [];
  try {
    for (const t of targets) out.push(openListener(t, { backlog: opts.backlog ?? 2048, reusePort: opts.reusePort }));
  } catch (err) {
    for (const l of out) {
      close(l.fd);
      l.cleanup();
    }
    throw err;
  }
  return out;
}

/** Removes the pid file if it still holds this process's pid (a successor may have replaced it). */
function removePidFile(file: string): void {
  try {
    if (Number(fs.readFileSync(file, 'utf8').trim()) === getpid()) fs.unlinkSync(file);
  } catch {
    // gone already
  }
}
