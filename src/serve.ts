/**
 * serve(app, options): runs an app on one of forkserve's engines.
 */
import { toHandler, type App } from './apps/index.js';
import { listenSocket } from './listen.js';
import { createLogger, type Logger } from './log.js';
import { close, getpid, type SockAddr } from './posix.js';
import { runFork } from './engines/fork.js';
import { warmUp } from './engines/warmup.js';
import { quiesce } from './engines/quiesce.js';
import type { EngineContext, EngineOptions } from './engines/types.js';

export type EngineName = 'fork';
export const ENGINES: readonly EngineName[] = ['fork'];

export interface ServeOptions extends EngineOptions {
  /** Process model. Default 'fork'. */
  engine?: EngineName;
  /** Numeric address to listen on. Default '127.0.0.1'. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8888. */
  port?: number;
  /** listen(2) backlog. Default 2048 (gunicorn's). */
  backlog?: number;
  /** Write access-log lines. Default true. */
  accessLog?: boolean;
  /** Called once listening, with the bound address (useful with port 0). */
  onListening?: (address: SockAddr) => void;
  logger?: Logger;
}

/**
 * Serves `app` until the server is stopped by SIGTERM (graceful) or
 * SIGINT/SIGQUIT (fast). Resolves in the parent when it has stopped. The
 * fork engine's parent runs in native code and does not return to the
 * event loop while serving. Throws SystemError (EADDRINUSE, EACCES) when it
 * cannot listen, TypeError for a bad app or option.
 */
export async function serve(app: App, options: ServeOptions = {}): Promise<void> {
  const engine = options.engine ?? 'fork';
  if (!ENGINES.includes(engine)) throw new TypeError(`Unknown engine "${engine}": expected one of ${ENGINES.join(', ')}`);
  const handler = toHandler(app);
  await warmUp();
  const log = options.logger ?? createLogger({ accessLog: options.accessLog });
  const { fd, address } = listenSocket({ host: options.host ?? '127.0.0.1', port: options.port ?? 8888, backlog: options.backlog ?? 2048 });
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log.info(`Listening at: http://${shown}:${address.port} (${getpid()})`);
  log.info(`Using engine: ${engine}`);
  options.onListening?.(address);
  const pending = await quiesce();
  if (pending.length) log.error(`Forking with async work still pending in the parent: ${pending.join(', ')}`);
  const ctx: EngineContext = { listenFd: fd, handler, log, serverName: address.address, serverPort: address.port, options };
  try {
    await runFork(ctx);
  } finally {
    close(fd);
  }
}
