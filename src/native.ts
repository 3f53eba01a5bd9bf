/**
 * The one loader of the compiled addon, and the typed shape of its raw
 * binding. The public API is in posix.ts, signals.ts and the engines.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SystemError } from './errors.js';

export interface RawAddress { family: 'IPv4' | 'IPv6' | 'unix' | 'unknown'; address: string; port: number }
/** Why a worker or fork child ended (engine::counters::Reap, src/engines/reap-reason.ts). */
export type ReapReason = 'exited' | 'failed' | 'timeout' | 'memory' | 'oom' | 'signal';

export interface RawWaitStatus {
  pid: number; exited: boolean; exitCode: number | null; signaled: boolean;
  signal: string | null; coreDumped: boolean; stopped: boolean;
}

export interface RawRequest {
  method: string;
  target: string;
  minorVersion: number;
  headers: string[]; // flat [name, value, name, value, ...] as received
  body: Buffer;
  keepAlive: boolean;
}

/** What fork() did with Node's platform threads (native/node/platform_park.h). */
export interface ForkParking {
  /** Platform threads parked per fork; -1 before the first fork measured them, and with FORKSERVE_NO_PARKING=1. */
  workers: number;
  /** Forks done with every platform thread parked. */
  forksParked: number;
  /** Forks done after the 1 s wait for a busy thread ran out. */
  forksUnparked: number;
  /** This process is a forked child: it has no platform threads to park. */
  inForkedChild: boolean;
}

/** An open file as openBeneath reports it (native/binding/files_glue.cc): fstat(2)'s fields serving needs. */
export interface RawOpenFile {
  fd: number;
  kind: 'file' | 'directory' | 'other';
  /** Bytes. */
  size: number;
  /** st_mtim: seconds and nanoseconds. */
  mtimeSec: number;
  mtimeNsec: number;
  ino: number;
  dev: number;
}

export interface NativeBinding {
  socket(domain: number, type: number, protocol?: number): number;
  socketpair(domain: number, type: number): [number, number];
  setsockopt(fd: number, level: number, name: number, value: number | boolean): void;
  getsockopt(fd: number, level: number, name: number): number;
  bind(fd: number, host: string, port?: number): void;
  connect(fd: number, host: string, port?: number): void;
  sendto(fd: number, buf: Buffer, path: string): number;
  listen(fd: number, backlog: number): void;
  accept(fd: number): { fd: number; address: RawAddress };
  getsockname(fd: number): RawAddress;
  getpeername(fd: number): RawAddress;
  read(fd: number, buf: Buffer, offset?: number, length?: number): number;
  recv(fd: number, buf: Buffer, flags?: number): number;
  write(fd: number, buf: Buffer, offset?: number, length?: number): number;
  send(fd: number, buf: Buffer, flags?: number): number;
  shutdown(fd: number, how: number): void;
  close(fd: number): void;
  setNonBlocking(fd: number, on?: boolean): void;
  fork(): number;
  forkParking(): ForkParking;
  waitpid(pid: number, options?: number): RawWaitStatus;
  _exit(status?: number): never;
  getpid(): number;
  getppid(): number;
  kill(pid: number, signal: number): void;
  getrlimit(resource: number): { soft: number; hard: number };
  setrlimit(resource: number, soft: number, hard: number): void;
  execv(path: string, args: string[], keep?: number[]): never;
  forkExec(path: string, args: string[], env: string[], keep: number[]): number;
  alarm(seconds: number): number;
  constants: Record<string, number>;
  sigaction(signal: string | number, restart: boolean): void;
  sigreset(signal: string | number, ignore?: boolean): void;
  takePendingSignals(): Array<[string, number]>;
  setSignalDispatch(fn: () => void): void;
  setSystemErrorClass(cls: typeof SystemError): void;
  signalName(signo: number): string | null;
  watchdog(fd: number, seconds: number): void;
  Connection: unknown;
  forkLoop: unknown;
  openBeneath(dirFd: number, path: Buffer | string, followSymlinks?: boolean): RawOpenFile;
  listDir(fd: number): Array<[string, 'file' | 'directory' | 'other']>;
  reapChildren(onReaped: (status: RawWaitStatus) => void): number;
  /** The master's shared counters (native/engine/counters.h): their memfd, -1 without one (macOS). Throws SystemError. */
  countersCreate(): number;
  /** Whether another master shares this one's listening sockets (a binary upgrade's): engine::SocketsShared. */
  socketsShared(successor: number, oldMaster: number): boolean;
  /** In a fork child: the bytes the parent read from fd before forking (--fork-after head), once; else null. */
  takeInheritedInput(fd: number): Buffer | null;
  /** The resident set of pid in bytes (posix::ResidentBytes: /proc/PID/statm, proc_pidinfo), null when it is gone. */
  residentBytes(pid: number): number | null;
  /** A response sent with this status, counted for /metrics. */
  countResponse(status: number): void;
  /** A reaped process, counted for /metrics by its reason. */
  countReap(reason: ReapReason): void;
  /** A request answered 503 for running past --timeout, counted for /metrics. */
  countTimeout(): void;
  [key: string]: unknown;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Loads the addon with node-gyp-build's rules: a local build
 * (build/Release, build/Debug) first, else the prebuild in
 * prebuilds/PLATFORM-ARCH/ tagged with this Node's ABI (the addon uses
 * Node's C++ embedder API, so a prebuild serves one Node ABI:
 * docs/install.md). Throws Error saying how to build it.
 */
function load(): NativeBinding {
  const require = createRequire(import.meta.url);
  try {
    const build = require('node-gyp-build') as (dir: string) => unknown;
    return build(root) as NativeBinding;
  } catch (err) {
    throw new Error(`forkserve: the native addon could not be loaded: ${(err as Error).message.split('\n')[0]}. `
      + `Build it for this Node (${process.version}, ABI ${process.versions.modules}) with \`npm rebuild forkserve\` (needs a C++ compiler and make)`);
  }
}

export const native: NativeBinding = load();
native.setSystemErrorClass(SystemError);
