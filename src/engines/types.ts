import type { Served } from '../apps/index.js';
import type { Logger } from '../log.js';
import type { Master } from '../upgrade.js';
import type { HttpLimits } from './connection.js';

/** Options every engine reads. */
export interface EngineOptions extends HttpLimits {
  /** fork: most children alive at once; the parent waits for one to exit before accepting again. 0: no bound. */
  maxChildren?: number;
  /**
   * fork: a lesson mode (--trace-forks). > 0: each stage of each connection
   * (accepted, forked, parent closed, child exited) is logged and lasts this
   * many ms, so an observer sees it. Absent or 0: off.
   */
  traceForksMs?: number;
  /**
   * fork: when a connection gets its child. 'head' (the default): once its
   * whole request head has come, read by the parent without blocking, so a
   * client that sends half a head holds a descriptor, not a process.
   * 'accept': right after accept(2), the course's server.
   */
  forkAfter?: 'accept' | 'head';
  /** Seconds a request may run before its process is stopped (503 if nothing was sent). Default 30. */
  timeout?: number;
  /** Seconds in-flight requests get after SIGTERM. Default 30. */
  gracefulTimeout?: number;
  /** prefork and node: worker processes. Default: the number of CPUs. */
  workers?: number;
  /** prefork: a worker is replaced after this many requests (0: never). */
  maxRequests?: number;
  /** prefork: up to this many more requests, chosen per worker, so workers do not restart together. */
  maxRequestsJitter?: number;
  /**
   * prefork and node: a worker whose resident set passes this many MiB (shared
   * pages included, as /proc/PID/statm counts them) finishes its requests
   * and is replaced, checked each second (uWSGI's reload-on-rss). 0 or
   * absent: no bound.
   */
  maxWorkerRssMiB?: number;
  /** The name in process titles (`forkserve: master [NAME]`, as gunicorn's setproctitle): the CLI's APP. Default 'app'. */
  appName?: string;
}

/** A listening socket's SERVER_NAME and SERVER_PORT (PEP 3333; RFC 3875 §4.1.14, §4.1.15): its address, or localhost and 0 for AF_UNIX. */
export interface ServerAddress {
  name: string;
  port: number;
}

export interface EngineContext {
  /** The first listening socket. */
  listenFd: number;
  /** Every listening socket served (--bind repeated, or systemd's), listenFd first. */
  listenFds: number[];
  /** The app: a request handler (native HTTP core) or a Node request listener (node:http). */
  app: Served;
  log: Logger;
  /** Per listening socket, in listenFds' order: the SERVER_NAME and SERVER_PORT of the requests that come on it. */
  servers: ServerAddress[];
  options: EngineOptions;
  /** Raises again a stop signal that came before the engine's handlers existed: call it once they do. */
  replayStopSignals?: () => void;
  /** The master's part in a binary upgrade (SIGUSR2); absent in a worker or child. */
  master?: Master;
  /** SIGHUP: loads the app again (the CLI re-imports the module), ready to fork from; absent: SIGHUP keeps the app. */
  reload?: () => Promise<Served>;
}
