/**
 * The fork engine: one child process per connection. The parent's loop
 * (accept, fork, close the connection, reap with waitpid(-1, WNOHANG) on
 * SIGCHLD) runs in native code (native/engine/fork_loop.cc); it returns
 * here only in a child, which serves its connection and calls _exit.
 */
import os from 'node:os';
import { native } from '../native.js';
import { _exit, constants, getpid, getrlimit } from '../posix.js';
import { reopenLogs, reopenOnSigusr1 } from '../log.js';
import { ReapReasons } from './reap-reason.js';
import { formatHostPort } from '../listen.js';
import { serveConnection } from './connection.js';
import { createHttpServer, guardListener, serveSocket } from './listener.js';
import type { EngineContext, EngineOptions } from './types.js';
import type { RawWaitStatus } from '../native.js';


/** The most children --max-children defaults to, whatever the machine (Apache prefork's MaxRequestWorkers is 256). */
export const MAX_CHILDREN_CAP = 4096;
/** Memory a one-connection child is budgeted at for the default bound: about 0.5 MiB private, doubled for headroom. */
const CHILD_BUDGET_BYTES = 1 << 20;

/**
 * The default of --max-children: a bound derived from the machine, so a
 * flood of connections cannot exhaust it. The least of half the processes
 * RLIMIT_NPROC allows this user (getrlimit(2); unlimited counts as no
 * bound), half the physical memory at 1 MiB per child, and 4096. At least 1.
 */
export function defaultMaxChildren(): number {
  const { soft } = getrlimit(constants.RLIMIT_NPROC);
  const byProcs = soft < 0 ? Infinity : Math.floor(soft / 2);
  const byMemory = Math.floor(os.totalmem() / 2 / CHILD_BUDGET_BYTES);
  return Math.max(1, Math.min(MAX_CHILDREN_CAP, byProcs, byMemory));
}

/** One stage of a connection under --trace-forks (engine::TraceEvent, native/engine/fork_loop.h). */
interface TraceEvent {
  stage: 'accepted' | 'forked' | 'parent-closed' | 'child-exited';
  child: number;
  fd: number;
  peer: { family: string; address: string; port: number } | null;
  status: RawWaitStatus | null;
}

/** The log line of one --trace-forks stage: what the kernel holds now, in the course's words. */
function traceLine(ev: TraceEvent): string {
  const peer = ev.peer ? (ev.peer.family === 'unix' ? 'a unix socket peer' : formatHostPort(ev.peer.address, ev.peer.port)) : '';
  switch (ev.stage) {
    case 'accepted':
      return `Trace: accept(2) returned fd ${ev.fd} for ${peer}: only the parent holds the connected socket (1 reference)`;
    case 'forked':
      return `Trace: fork(2) made child ${ev.child}: its copy of fd ${ev.fd} and the parent's are one open file description (2 references)`;
    case 'parent-closed':
      return `Trace: the parent closed its fd ${ev.fd}: only child ${ev.child} holds the socket (1 reference)`;
    case 'child-exited': {
      const st = ev.status!;
      const how = st.exited ? `exited ${st.exitCode}` : `was killed by ${st.signal}`;
      return `Trace: child ${ev.child} ${how}: the kernel closed its descriptors, the socket is gone; it is a zombie until the parent reaps it`;
    }
  }
}

/**
 * How many connections may wait for their request head at once
 * (--fork-after head): each costs a descriptor, so half of RLIMIT_NOFILE's
 * soft limit (getrlimit(2); Node raises it to the hard limit at start),
 * between 64 and 65536.
 */
export function defaultMaxWaiting(): number {
  const { soft } = getrlimit(constants.RLIMIT_NOFILE);
  return soft < 0 ? 65536 : Math.max(64, Math.min(65536, Math.floor(soft / 2)));
}

type ChildResult = { role: 'child'; fd: number; address: { address: string; port: number }; listener: number };
type ParentResult = { role: 'parent'; event: 'stopped' | 'upgrade' | 'reload' | 'pause' | 'reopen'; stopSignal: string | null; drained: number };

/**
 * Runs the parent's native loop until it stops, handling what it returns
 * for: SIGUSR2 (start a new master, src/upgrade.ts), SIGWINCH (it stopped
 * accepting) and SIGHUP (load the app again; accepting resumes). Returns
 * the connection in a child.
 */
async function parentLoop(ctx: EngineContext): Promise<ChildResult | undefined> {
  const { log, options, master } = ctx;
  const forkLoop = native.forkLoop as (
    fds: number[],
    opts: {
      maxChildren: number; gracefulTimeoutMs: number; reportCleanExits: boolean; successor: number; oldMaster: number; pauseOnWinch: boolean; tracePauseMs: number;
      forkAfterHead: boolean; limits: EngineOptions; maxWaiting: number;
    },
    onReaped: (st: RawWaitStatus) => void,
    onError: (err: Error) => void,
    onSuccessorExited: (st: RawWaitStatus) => void,
    onTrace: (ev: TraceEvent) => void,
  ) => ChildResult | ParentResult;
  const tracePauseMs = options.traceForksMs ?? 0;
  const forkAfterHead = (options.forkAfter ?? 'head') === 'head';
  const maxWaiting = defaultMaxWaiting();
  log.info(forkAfterHead
    ? `A child is forked once a request head has come (--fork-after head); up to ${maxWaiting} connections wait for theirs`
    : 'A child is forked at accept (--fork-after accept)');
  if (tracePauseMs > 0) log.info(`Tracing forks (--trace-forks): each stage of a connection lasts ${tracePauseMs} ms`);
  const maxChildren = options.maxChildren ?? defaultMaxChildren();
  log.info(maxChildren > 0 ? `At most ${maxChildren} children at once (--max-children)` : 'No bound on children (--max-children 0)');
  const reasons = new ReapReasons();
  const onReaped = (st: RawWaitStatus) => {
    const { how } = reasons.reaped(st, options.timeout ?? 30);
    if (tracePauseMs > 0) log.info(`Trace: reaped child ${st.pid} with waitpid(-1, WNOHANG): ${how}; the zombie is gone`);
    // One child per connection: a clean exit is per-request detail (--log-level debug); any other is an error, with its reason.
    if (!(st.exited && st.exitCode === 0)) log.error(`Reaped child ${st.pid}: ${how}`);
    else if (tracePauseMs === 0) log.debug?.(`Reaped child ${st.pid}: ${how}`);
  };
  const onError = (err: Error) => log.error(`${err.message}${(err as { syscall?: string }).syscall === 'fork' ? ': answered 503' : ''}`);
  for (;;) {
    const r = forkLoop(
      ctx.listenFds,
      // A clean exit is logged only at --log-level debug: otherwise the native loop does not call back at all.
      {
        maxChildren, gracefulTimeoutMs: (options.gracefulTimeout ?? 30) * 1000,
        reportCleanExits: tracePauseMs > 0 || (log.debug !== undefined && log.debugEnabled !== false),
        successor: master?.successor ?? 0, oldMaster: master?.oldMaster ?? 0, pauseOnWinch: master?.pauseOnWinch ?? false, tracePauseMs,
        forkAfterHead, limits: options, maxWaiting,
      },
      onReaped, onError, (st) => master?.successorExited(st), (ev) => log.info(traceLine(ev)),
    );
    if (r.role === 'child') return r;
    switch (r.event) {
      case 'upgrade': master?.upgrade(); break;
      case 'reopen': reopenLogs(log, { announce: true }); break;
      case 'pause': log.info('SIGWINCH: accepting no more connections, children finish theirs; the listening sockets stay open (SIGHUP accepts again)'); break;
      case 'reload':
        log.info('Hang up: reloading the app, accepting again');
        if (ctx.reload) {
          try {
            ctx.app = await ctx.reload();
          } catch (err) {
            log.error(`Reload failed, keeping the running app: ${(err as Error)?.stack ?? String(err)}`);
          }
        }
        break;
      default:
        log.info(`Stopped by ${r.stopSignal ?? 'request'}${r.drained ? ` (${r.drained} connection(s) waiting in the accept queue were served first)` : ''}`);
        return undefined;
    }
  }
}

export async function runFork(ctx: EngineContext): Promise<void> {
  const { log, options } = ctx;
  const r = await parentLoop(ctx);
  if (!r) return;
  // The child. process.pid is the parent's until corrected.
  Object.defineProperty(process, 'pid', { value: getpid(), configurable: true, enumerable: true, writable: false });
  // The loop left SIGUSR1 ignored: a long keep-alive connection's child reopens its logs too.
  reopenOnSigusr1(log);
  // An AF_UNIX peer has no address: the title says the family instead.
  const peer = r.address.address ? formatHostPort(r.address.address, r.address.port) : 'unix';
  process.title = `forkserve: child [${peer}]`;
  // --trace-forks: the parent closes its copy one pause after the fork; the child waits a pause more, so that stage shows too.
  if (options.traceForksMs) await new Promise((resolve) => setTimeout(resolve, 2 * options.traceForksMs!));
  let code = 0;
  const timeoutSeconds = options.timeout ?? 30;
  const { app } = ctx;
  try {
    if (app.interface === 'node') {
      // node:http parses this connection. A request still without response
      // headers after --timeout is answered 503 from JS; the watchdog, armed
      // with no descriptor to write to, ends the child a second later if the
      // app blocked the JS thread or is still sending.
      const guarded = guardListener(app.listener, log, { timeoutSeconds });
      const server = createHttpServer((req, res) => {
        if (timeoutSeconds > 0) {
          native.watchdog(-1, timeoutSeconds + 1);
          res.once('close', () => native.watchdog(-1, 0));
        }
        guarded(req, res);
      }, options);
      await serveSocket(server, r.fd, native.takeInheritedInput(r.fd));
    } else await serveConnection(r.fd, {
      handler: app.handler,
      log,
      serverName: ctx.servers[r.listener].name,
      serverPort: ctx.servers[r.listener].port,
      remoteAddress: r.address.address,
      remotePort: r.address.port,
      limits: options,
      timeoutSeconds,
    });
  } catch (err) {
    log.error(`Child ${getpid()} failed: ${(err as Error)?.stack ?? String(err)}`);
    code = 1;
  }
  // Never return into the parent's code, never run exit handlers: _exit.
  _exit(code);
}
