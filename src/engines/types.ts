import type { Handler } from '../apps/index.js';
import type { Logger } from '../log.js';
import type { HttpLimits } from './connection.js';

/** Options every engine reads. */
export interface EngineOptions extends HttpLimits {
  /** fork: most children alive at once; the parent waits for one to exit before accepting again. 0: no bound. */
  maxChildren?: number;
  /** Seconds a request may run before its process is stopped (503 if nothing was sent). Default 30. */
  timeout?: number;
  /** Seconds in-flight requests get after SIGTERM. Default 30. */
  gracefulTimeout?: number;
}

export interface EngineContext {
  listenFd: number;
  handler: Handler;
  log: Logger;
  serverName: string;
  serverPort: number;
  options: EngineOptions;
}
