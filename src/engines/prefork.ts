/**
 * The prefork engine: a master and N workers, in gunicorn's arbiter's
 * terms. The master's loop is native (native/engine/prefork.cc): it forks
 * the workers, reaps them with waitpid(-1, WNOHANG) and replaces the dead,
 * kills workers silent for longer than --timeout, and handles SIGTERM
 * (graceful), SIGINT/SIGQUIT (fast), SIGHUP (reload the app, new workers, no
 * dropped connections: the listening socket stays open in the master),
 * SIGTTIN/SIGTTOU (one worker more/fewer), and a binary upgrade's SIGUSR2
 * (a new master), SIGWINCH (every worker stops, gracefully) and SIGHUP
 * (workers again) as src/upgrade.ts describes. Workers accept on the shared
 * listening socket and run the poll engine.
 */
import { native } from '../native.js';
import { _exit, getpid, kill } from '../posix.js';
import { reopenLogs, reopenOnSigusr1 } from '../log.js';
import { runPoll } from './poll.js';
import { holdStopSignals } from '../signals.js';
import { ReapReasons } from './reap-reason.js';
import type { EngineContext } from './types.js';
import type { RawWaitStatus } from '../native.js';
import type { Served } from '../apps/index.js';

type MasterResult = { role: 'worker'; slot: number } | { role: 'master'; event: 'stopped' | 'reload' | 'upgrade' | 'reopen'; stopSignal?: string | null; workers?: number };

/** Requests a worker serves before it is replaced: max-requests plus up to max-requests-jitter (gunicorn's meaning). 0: never. */
export function requestBudget(maxRequests = 0, jitter = 0): number {
  if (maxRequests <= 0) return 0;
  return maxRequests + Math.floor(Math.random() * (jitter + 1));
}

/**
 * A worker runs the poll engine (native/engine/poll_loop.cc) on the shared
 * listening socket, nginx's model: each worker multiplexes its persistent
 * connections, so a few workers serve many keep-alive clients. It beats
 * every second (twice per --timeout when that is shorter) from the event loop: a worker whose JS is stuck stops
 * beating and the master kills it. After its request budget it sends itself
 * SIGTERM, the poll engine's graceful stop: requests in flight finish.
 */
async function runWorker(ctx: EngineContext, slot: number): Promise<number> {
  const { options, log } = ctx;
  const budget = requestBudget(options.maxRequests, options.maxRequestsJitter);
  const heartbeat = native.heartbeat as (requestDone?: boolean) => void;
  let served = 0;
  log.info(`Booting worker with pid: ${getpid()} (slot ${slot})`);
  // The master left SIGUSR1 ignored until now, and passes it on after reopening its own logs.
  reopenOnSigusr1(log);
  process.title = `forkserve: worker [${options.appName ?? 'app'}]`;
  const counted = () => {
    heartbeat(true);
    if (++served === budget) {
      log.info(`Worker ${getpid()} served ${served} requests (max-requests): exiting to be replaced`);
      kill(getpid(), 'SIGTERM');
    }
  };
  const { app } = ctx;
  const countedApp: Served = app.interface === 'node'
    ? { interface: 'node', listener: (req, res) => { res.once('close', counted); return app.listener(req, res); } }
    : { interface: app.interface, handler: (req) => {
      // Keeps a synchronous app synchronous: the poll engine answers it within the native call.
      const res = app.handler(req);
      if (res instanceof Promise) return res.then((r) => { counted(); return r; });
      counted();
      return res;
    } };
  // Twice per --timeout at least (gunicorn's notify interval is timeout / 2): a worker beating once a second
  // would be killed by a --timeout 1 master between two beats.
  const timeoutMs = (options.timeout ?? 30) * 1000;
  const beat = setInterval(() => heartbeat(), timeoutMs > 0 ? Math.max(100, Math.min(1000, timeoutMs / 2)) : 1000);
  try {
    // A SIGTERM that came while the worker started (the master kept it
    // counted) reaches the poll engine's handler once it exists.
    await runPoll({ ...ctx, app: countedApp, replayStopSignals: holdStopSignals() });
  } finally {
    clearInterval(beat);
  }
  return 0;
}

export async function runPrefork(ctx: EngineContext): Promise<void> {
  const { log, options, master: upgrade, reload } = ctx;
  const master = native.preforkMaster as (fds: number[], o: object, cb: object) => MasterResult;
  const reasons = new ReapReasons();
  const timeoutSeconds = options.timeout ?? 30;
  const callbacks = {
    onSpawned: () => {},
    onReaped: (st: RawWaitStatus, expected: boolean) => {
      const { how } = reasons.reaped(st, timeoutSeconds);
      if (expected && st.exited) log.info(`Worker ${st.pid} exited: ${how}`);
      else log.error(`Worker ${st.pid} ${how}${expected ? '' : '; replacing it'}`);
    },
    onTimeout: (pid: number) => {
      reasons.killedForTimeout(pid);
      log.error(`WORKER TIMEOUT (pid:${pid}): no heartbeat for ${timeoutSeconds} s, sending SIGKILL`);
    },
    onError: (err: Error) => log.error(`${err.message}: will retry`),
    onWorkerCount: (n: number) => log.info(n === 0
      ? 'SIGWINCH: stopping every worker gracefully; the listening sockets stay open (SIGHUP starts workers again)'
      : `Number of workers: ${n}`),
    onSuccessorExited: (st: RawWaitStatus) => upgrade?.successorExited(st),
    onRecycled: (pid: number, rss: number) => {
      reasons.recycledForMemory(pid);
      log.info(`Worker ${pid} uses ${Math.round(rss / 2 ** 20)} MiB, over --max-worker-rss ${options.maxWorkerRssMiB} MiB: replacing it gracefully`);
    },
  };
  // The count wanted: SIGTTIN/SIGTTOU/SIGWINCH change it natively, and it is passed back as left.
  let workers = options.workers ?? 2;
  for (;;) {
    const r = master(ctx.listenFds, {
      workers,
      timeoutMs: timeoutSeconds * 1000,
      gracefulTimeoutMs: (options.gracefulTimeout ?? 30) * 1000,
      successor: upgrade?.successor ?? 0,
      oldMaster: upgrade?.oldMaster ?? 0,
      maxWorkerRssMiB: options.maxWorkerRssMiB ?? 0,
      pauseOnWinch: upgrade?.pauseOnWinch ?? false,
    }, callbacks);
    if (r.role === 'worker') {
      Object.defineProperty(process, 'pid', { value: getpid(), configurable: true, enumerable: true, writable: false });
      let code = 0;
      try {
        code = await runWorker({ ...ctx, master: undefined, reload: undefined }, r.slot);
      } catch (err) {
        log.error(`Worker ${getpid()} failed: ${(err as Error)?.stack ?? String(err)}`);
        code = 1;
      }
      _exit(code);
    }
    if (r.event === 'stopped') {
      log.info(`Stopped by ${r.stopSignal ?? 'request'}`);
      return;
    }
    workers = r.workers ?? workers;
    if (r.event === 'upgrade') {
      upgrade?.upgrade();
      continue;
    }
    if (r.event === 'reopen') {
      reopenLogs(log, { announce: true });  // the workers were sent SIGUSR1 natively
      continue;
    }
    log.info('Hang up: reloading the app, starting new workers');
    if (reload) {
      try {
        ctx.app = await reload();
      } catch (err) {
        log.error(`Reload failed, keeping the running app: ${(err as Error)?.stack ?? String(err)}`);
      }
    }
  }
}
