/**
 * Starts a server under test (the forkserve CLI or the C floor) with its
 * stderr in a file, waits for its "Listening at: http://HOST:PORT (PID)"
 * line, and stops it and everything it started. Used by bench/run.ts and
 * bench/soak.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStat, sleep, treePids, waitUntil } from './proc.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(ROOT, 'bin/forkserve.js');

export interface StartOptions {
  /** argv[0] and the rest. */
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** The file that receives the server's stderr (and stdout). */
  logFile: string;
  /** Pin the server (and so every process it starts) to this CPU with taskset. */
  cpu?: number;
  /** A server that prints no "Listening at" line (nginx): the port it was told to use; ready once it accepts a connection. */
  port?: number;
  /** Give up waiting for "Listening at" after this many ms. Default 20000. */
  startTimeoutMs?: number;
}

export interface Server {
  pid: number;
  port: number;
  proc: ChildProcess;
  log(): string;
  exited(): boolean;
  /** How it ended ("exited 1", "killed by SIGSEGV"), null while it runs. */
  exitStatus(): string | null;
  /** SIGTERM (or `signal`); SIGKILL for the tree after graceMs. Resolves when the top process has exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

let tasksetChecked: boolean | undefined;
export function hasTaskset(): boolean {
  if (tasksetChecked === undefined) {
    tasksetChecked = ['/usr/bin/taskset', '/bin/taskset', '/usr/local/bin/taskset'].some((p) => fs.existsSync(p));
  }
  return tasksetChecked;
}

/** Starts the server and waits for its "Listening at" line; throws with the log's tail if it exits or times out first. */
export async function startServer(o: StartOptions): Promise<Server> {
  const pinned = o.cpu !== undefined && hasTaskset();
  const [cmd, args] = pinned ? ['taskset', ['-c', String(o.cpu), o.command, ...o.args]] : [o.command, o.args];
  const out = fs.openSync(o.logFile, 'w');
  // taskset execs the command: the spawned pid is the server's pid.
  const proc = spawn(cmd, args, { cwd: ROOT, env: o.env ?? process.env, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let exitedFlag = false;
  let status: string | null = null;
  const exited = new Promise<void>((resolve) => proc.on('exit', (code, signal) => {
    exitedFlag = true;
    status = signal ? `killed by ${signal}` : `exited ${code}`;
    resolve();
  }));
  const log = () => {
    try {
      return fs.readFileSync(o.logFile, 'utf8');
    } catch {
      return '';
    }
  };
  let port = 0;
  let probing = false;
  const ok = await waitUntil(() => {
    if (o.port !== undefined) {
      if (!probing) {
        probing = true;
        const c = net.connect(o.port, '127.0.0.1');
        c.once('connect', () => { port = o.port!; c.destroy(); });
        c.once('error', () => { probing = false; });
      }
      return port > 0 || exitedFlag;
    }
    const m = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(log());
    if (m) port = Number(m[1]);
    return port > 0 || exitedFlag;
  }, o.startTimeoutMs ?? 20_000, 25);
  const server: Server = {
    pid: proc.pid!,
    port,
    proc,
    log,
    exited: () => exitedFlag,
    exitStatus: () => status,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      if (exitedFlag) return;
      const tree = treePids(proc.pid!).map((pid) => ({ pid, start: readStat(pid)?.starttime }));
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Anything it started and left behind (same pid and start time: not a reused pid).
      await sleep(50);
      for (const { pid, start } of tree.slice(1)) {
        const s = readStat(pid);
        if (s && s.starttime === start && s.state !== 'Z') {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    },
  };
  if (!ok || exitedFlag || port === 0) {
    await server.stop('SIGKILL', 1000);
    const tail = log().split('\n').slice(-15).join('\n');
    throw new Error(`${path.basename(o.command)} ${o.args.join(' ')}: ${exitedFlag ? 'exited' : 'did not listen'} before "Listening at":\n${tail}`);
  }
  return server;
}
