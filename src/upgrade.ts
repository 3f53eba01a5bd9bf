/**
 * Zero-downtime binary upgrade, in gunicorn's, unicorn's and nginx's
 * meaning (docs/deploy.md, "Upgrading without dropping a connection"):
 *
 *  - SIGUSR2 to the master: it starts a new master, the same command line
 *    run afresh (new code, new Node, new app), which inherits the listening
 *    sockets: their descriptor numbers are in FORKSERVE_FDS (gunicorn's
 *    GUNICORN_FD), the old master's pid in FORKSERVE_OLD_MASTER. With
 *    --pid FILE the new master writes FILE.2. Both now accept.
 *  - SIGWINCH to the old master: its workers (prefork, node), or children
 *    (fork), finish what they are doing and exit; it stops accepting and
 *    keeps the sockets open. Only the new master serves.
 *  - SIGTERM to the old master: it exits, renaming FILE.2 to FILE, and
 *    leaves a unix: socket file in place for the new master.
 *  - Roll back instead: SIGHUP to the old master starts its workers again
 *    (and reloads the app); then SIGTERM to the new one.
 */
import tty from 'node:tty';
import fs from 'node:fs';
import { forkExec, getpid, waitpid, WNOHANG, type WaitStatus } from './posix.js';
import { describeStatus, type Logger } from './log.js';
import { native } from './native.js';

/** The environment variables a new master is started with. */
export const UPGRADE_FDS_ENV = 'FORKSERVE_FDS';
export const UPGRADE_OLD_MASTER_ENV = 'FORKSERVE_OLD_MASTER';

/**
 * The listening sockets an old master passed to this process, and its pid;
 * undefined when this process was not started by SIGUSR2. The variables
 * are removed, so that nothing this process starts takes them for its own.
 * Throws TypeError when FORKSERVE_FDS is not a comma-separated list of
 * descriptor numbers.
 */
export function takeUpgradeFds(env: NodeJS.ProcessEnv = process.env): { fds: number[]; oldMaster: number } | undefined {
  const list = env[UPGRADE_FDS_ENV];
  if (list === undefined) return undefined;
  const oldMaster = Number(env[UPGRADE_OLD_MASTER_ENV] ?? 0);
  delete env[UPGRADE_FDS_ENV];
  delete env[UPGRADE_OLD_MASTER_ENV];
  const fds = list.split(',').map(Number);
  if (fds.length === 0 || !fds.every((fd) => Number.isInteger(fd) && fd >= 0)) {
    throw new TypeError(`${UPGRADE_FDS_ENV}="${list}" is not a list of descriptor numbers (it is set by a master re-executing itself on SIGUSR2)`);
  }
  return { fds, oldMaster };
}

/**
 * A master's part in an upgrade: the new master it started (0: none), and
 * the pid file it writes. Engines call upgrade() on SIGUSR2 and
 * successorExited() when their waitpid loop reaps the new master.
 */
export class Master {
  /** The new master this one started and has not reaped. */
  successor = 0;
  /** This master was started by an old one (SIGUSR2): its pid. */
  readonly oldMaster: number;

  constructor(private readonly listenFds: number[], private readonly log: Logger, readonly pidFile?: string, oldMaster = 0) {
    this.oldMaster = oldMaster;
  }

  /** The pid file this master writes: FILE, or FILE.2 for a new master while its old one runs. */
  get ownPidFile(): string | undefined {
    return this.pidFile && (this.oldMaster ? `${this.pidFile}.2` : this.pidFile);
  }

  /**
   * SIGWINCH stops the workers only when it can be meant: after SIGUSR2, or
   * without a terminal, which sends it to its whole foreground group on
   * every resize (gunicorn honours it only when daemonized).
   */
  get pauseOnWinch(): boolean {
    return this.successor > 0 || !tty.isatty(0);
  }

  /** SIGUSR2: starts the new master (logged; a second one while the first runs is refused). */
  upgrade(): void {
    if (this.successor) {
      this.log.error(`SIGUSR2 ignored: the new master ${this.successor} is running (SIGTERM it to roll back, or this one to finish)`);
      return;
    }
    const env = { ...process.env, [UPGRADE_FDS_ENV]: this.listenFds.join(','), [UPGRADE_OLD_MASTER_ENV]: String(getpid()) };
    // The same command line: Node's own flags, then the script and its arguments.
    const args = [process.execPath, ...process.execArgv, ...process.argv.slice(1)];
    try {
      this.successor = forkExec(process.execPath, args, { env, keep: this.listenFds });
    } catch (err) {
      this.log.error(`SIGUSR2: cannot start a new master: ${(err as Error).message}`);
      return;
    }
    this.log.info(`SIGUSR2: started a new master, pid ${this.successor}, on the same sockets`);
  }

  /** The new master was reaped: this one is the only server again. */
  successorExited(st: WaitStatus): void {
    this.successor = 0;
    const why = st.exited && st.exitCode === 127 ? ': it could not be executed' : '';
    this.log.error(`The new master ${st.pid} ${describeStatus(st)}${why}; this master goes on serving`);
  }

  /**
   * For engines whose master runs an event loop (node, poll): reaps the new
   * master when it exits, with waitpid(pid, WNOHANG) once a second (their
   * SIGCHLD belongs to libuv or nobody). Returns a stop function.
   */
  watchSuccessor(): () => void {
    const timer = setInterval(() => {
      if (!this.successor) return;
      const st = waitpid(this.successor, WNOHANG);
      if (st.pid) this.successorExited(st);
    }, 1000);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * True while another master serves the same sockets: the new one this
   * master started, or the old one that started it (its parent until it
   * exits). A SIGTERM then ends this master only, and the sockets go on
   * listening (native/engine/stop.h, SocketsShared).
   */
  socketsShared(): boolean {
    return native.socketsShared(this.successor, this.oldMaster);
  }

  /** At exit: the new master, if one runs, takes over the pid file (FILE.2 becomes FILE). */
  handOver(): void {
    if (!this.successor || !this.pidFile) return;
    try {
      fs.renameSync(`${this.pidFile}.2`, this.pidFile);
    } catch {
      // the new master wrote none (yet): nothing to hand over
    }
  }
}
