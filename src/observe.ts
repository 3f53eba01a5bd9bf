/**
 * forkserve/observe: look at real processes from TypeScript: the process tree
 * under a pid (with zombies), and the open file descriptors of each process
 * (with sockets decoded and descriptors shared between processes grouped).
 *
 * On Linux everything is read from /proc (see proc(5)). On macOS the calls go
 * to native code in the addon that uses libproc (`proc_listchildpids`,
 * `proc_pidinfo(PROC_PIDTBSDINFO)`, `proc_pidinfo(PROC_PIDLISTFDS)`,
 * `proc_pidfdinfo`; src/observe/darwin.ts), not yet verified on a Mac by CI.
 * On other platforms every call throws an error with `code: 'ENOSYS'`.
 *
 * All calls are synchronous: procfs is generated in memory by the kernel.
 * What they return is a snapshot; processes keep running while it is taken,
 * so a process or descriptor that disappears mid-read is left out rather than
 * reported as an error (except the pid you asked about).
 *
 * Reference: docs/observe.md.
 *
 * @module
 */

import * as fs from 'node:fs';
import { darwinDescriptors, darwinProcessTree } from './observe/darwin.js';
import { groupByIdentity } from './observe/group.js';
import { readSocketTables } from './observe/net.js';
import {
  isDenied,
  isGone,
  major,
  parseCmdline,
  parseFdinfo,
  parseStat,
  readBootTime,
  enosys,
  systemError,
  ticksToDate,
  type StatFields,
} from './observe/procfs.js';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/**
 * Process state letter, field 3 of /proc/PID/stat (proc(5)):
 * `R` running or runnable, `S` sleeping (interruptible), `D` waiting
 * uninterruptibly (usually disk I/O), `Z` zombie (exited, not yet reaped by
 * its parent's wait()), `T` stopped by a signal, `t` stopped by a tracer,
 * `X` dead (never normally seen), `I` idle kernel thread, and the letters of
 * older kernels (`x`, `K`, `W`, `P`).
 */
export type ProcessState = 'R' | 'S' | 'D' | 'Z' | 'T' | 't' | 'X' | 'I' | 'x' | 'K' | 'W' | 'P';

/** One process of {@link processTree}. */
export interface ProcessInfo {
  /** Process id. */
  pid: number;
  /** Parent process id (field 4 of /proc/PID/stat); 0 for pid 1 (init) and pid 2 (kthreadd). */
  ppid: number;
  /**
   * The executable's name as the kernel keeps it (task->comm, the same value as
   * /proc/PID/comm, truncated by the kernel to 15 bytes). Taken from field 2 of
   * /proc/PID/stat so that it belongs to the same read as `state`.
   */
  command: string;
  /**
   * argv from /proc/PID/cmdline. Empty for zombies (their memory is gone) and
   * kernel threads. A process may overwrite its own argv, so this is what it
   * shows, not necessarily what it was started with.
   */
  args: string[];
  /** State letter, field 3 of /proc/PID/stat. */
  state: ProcessState;
  /** `state === 'Z'`: the process has exited and waits for its parent to reap it. */
  zombie: boolean;
  /**
   * When the process started: field 22 of /proc/PID/stat (starttime, in clock
   * ticks since boot, CLK_TCK = 100 per second) added to `btime` of /proc/stat
   * (boot time, whole seconds since the epoch). Precision about ±1 s.
   */
  startTime: Date;
  /** 0 for the pid you asked about, 1 for its children, 2 for grandchildren, ... */
  depth: number;
  /**
   * Number of entries in /proc/PID/fd, or `null` for a zombie (the kernel
   * closed its descriptors at exit) and for a process whose descriptors you may
   * not read (EACCES/EPERM: another user's process, without CAP_SYS_PTRACE).
   */
  descriptorCount: number | null;
}

/**
 * What an open descriptor refers to, from its /proc/PID/fd/N link and the
 * stat of what the link points to:
 * - `socket`: `socket:[INODE]`
 * - `pipe`: `pipe:[INODE]`, or a named FIFO (a path whose stat says FIFO)
 * - `tty`: a terminal character device (/dev/pts/N, /dev/ttyN, /dev/console, ...)
 * - `file`: anything else with a path: regular files, directories, other
 *   devices such as /dev/null, deleted files (`/path (deleted)`), memfds
 * - `anon`: `anon_inode:[eventfd]`, `anon_inode:[eventpoll]`, timerfd, signalfd, ...
 * - `other`: anything else (e.g. namespace descriptors `net:[4026531840]`)
 */
export type DescriptorType = 'socket' | 'pipe' | 'file' | 'tty' | 'anon' | 'other';

/** TCP state names from include/net/tcp_states.h. For UDP, `CLOSE` means unconnected and `ESTABLISHED` connected. */
export type TcpState =
  | 'ESTABLISHED'
  | 'SYN_SENT'
  | 'SYN_RECV'
  | 'FIN_WAIT1'
  | 'FIN_WAIT2'
  | 'TIME_WAIT'
  | 'CLOSE'
  | 'CLOSE_WAIT'
  | 'LAST_ACK'
  | 'LISTEN'
  | 'CLOSING'
  | 'NEW_SYN_RECV'
  | 'BOUND_INACTIVE'
  | 'UNKNOWN';

/** An IPv4 or IPv6 socket, from /proc/PID/net/{tcp,tcp6,udp,udp6}. */
export interface InetSocketInfo {
  family: 'inet' | 'inet6';
  protocol: 'tcp' | 'udp';
  /** Text form: `127.0.0.1`, `::1`, `::ffff:127.0.0.1`; `0.0.0.0` / `::` when bound to any address. */
  localAddress: string;
  /** 0 when not bound. */
  localPort: number;
  /** `0.0.0.0` / `::` when not connected. */
  remoteAddress: string;
  /** 0 when not connected. */
  remotePort: number;
  state: TcpState;
  /**
   * A listening TCP socket's accept queue (Linux, /proc/PID/net/tcp): the
   * connections the kernel completed and nobody accepted yet (`length`,
   * the rx_queue column of a LISTEN socket).
   */
  acceptQueue?: { length: number };
}

/** A Unix domain socket, from /proc/PID/net/unix. */
export interface UnixSocketInfo {
  family: 'unix';
  /** Socket type: SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET. */
  protocol: 'stream' | 'dgram' | 'seqpacket' | 'other';
  /** Bound path; abstract names start with `@`; `null` when unnamed (e.g. socketpair(2), the client end). */
  path: string | null;
  /** `LISTEN` when listening, else the socket_state of include/uapi/linux/net.h. */
  state: 'LISTEN' | 'UNCONNECTED' | 'CONNECTING' | 'CONNECTED' | 'DISCONNECTING' | 'UNKNOWN';
}

/** A decoded socket; discriminate on `family`. */
export type SocketInfo = InetSocketInfo | UnixSocketInfo;

/** One open descriptor of {@link descriptors}. */
export interface Descriptor {
  /** The descriptor number in its process. */
  fd: number;
  type: DescriptorType;
  /** readlink(2) of /proc/PID/fd/N: a path, `socket:[N]`, `pipe:[N]`, `anon_inode:[eventfd]`, ... */
  target: string;
  /**
   * st_dev of what the descriptor refers to (stat(2) of /proc/PID/fd/N, which
   * follows the link): for sockets and pipes the kernel's internal sockfs /
   * pipefs device, for files the file system's device (glibc dev_t encoding).
   */
  device: number;
  /** st_ino of what the descriptor refers to; for sockets and pipes the N of `socket:[N]` / `pipe:[N]`. */
  inode: number;
  /**
   * `"device:inode"`, exact even beyond 2^53: the key of
   * {@link sharedDescriptors}. Equal for every descriptor, in any process, that
   * refers to the same socket, the same pipe, or the same file.
   */
  identity: string;
  /** Access mode from `flags` (O_RDONLY / O_WRONLY / O_RDWR); `null` if fdinfo could not be read. */
  access: 'read' | 'write' | 'read-write' | null;
  /**
   * open(2) flags from /proc/PID/fdinfo/N (printed there in octal): those of
   * the open file description plus this descriptor's own O_CLOEXEC (02000000).
   * `null` if fdinfo could not be read.
   */
  flags: number | null;
  /** File offset in bytes, from /proc/PID/fdinfo/N; shared by all descriptors of one open file description. */
  pos: number | null;
  /** For `type === 'socket'`: the decoded socket, or `null` if its family is not decoded (netlink, packet, raw, ...). Always `null` for other types. */
  socket: SocketInfo | null;
}

/** One reference to an open object: descriptor `fd` of process `pid`. */
export interface DescriptorRef {
  pid: number;
  fd: number;
}

// ---------------------------------------------------------------------------
// Platform gate
// ---------------------------------------------------------------------------

/**
 * macOS: the addon's libproc functions (src/observe/darwin.ts) answer instead
 * of /proc. Decided once, at load: on Linux the darwin code is never reached.
 */
const DARWIN = process.platform === 'darwin';

/** Throws ENOSYS unless on Linux (macOS branches off before calling this). */
function requireLinux(call: string): void {
  if (process.platform === 'linux') return;
  throw enosys(call, 'is implemented for Linux (/proc) and for macOS (in the addon, ' +
    `through libproc: proc_listchildpids, proc_pidinfo, proc_pidfdinfo), not for ${process.platform}`);
}

function checkPid(pid: unknown, name = 'pid'): asserts pid is number {
  if (typeof pid !== 'number') {
    const err: NodeJS.ErrnoException = new TypeError(`The "${name}" argument must be of type number. Received ${typeof pid}`);
    err.code = 'ERR_INVALID_ARG_TYPE';
    throw err;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    const err: NodeJS.ErrnoException = new RangeError(
      `The value of "${name}" is out of range. It must be a positive integer. Received ${pid}`,
    );
    err.code = 'ERR_OUT_OF_RANGE';
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/** Reads /proc/PID/stat, or returns null if the process does not exist (any more). */
function readStat(pid: number): StatFields | null {
  try {
    return parseStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

function readArgs(pid: number): string[] {
  try {
    return parseCmdline(fs.readFileSync(`/proc/${pid}/cmdline`));
  } catch (err) {
    if (isGone(err) || isDenied(err)) return [];
    throw err;
  }
}

function countDescriptors(pid: number, zombie: boolean): number | null {
  if (zombie) return null;
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch (err) {
    if (isGone(err) || isDenied(err)) return null;
    throw err;
  }
}

/**
 * The process `pid` and all its descendants, parent first, depth-first
 * (pre-order); siblings in the order they started.
 *
 * Descendants are found by reading /proc/N/stat of every process and following
 * the ppid links (field 4). A process that exits during the walk is left out;
 * orphans are reparented by the kernel (to init or a subreaper) and so leave
 * the tree.
 *
 * @param pid - a process id (a thread-group id; a thread id resolves too but has no children).
 * @returns at least one element: `pid` itself, with `depth` 0.
 * @throws `ESRCH` (`code: 'ESRCH'`, `errno: -3`, `syscall: 'open'`,
 *   `path: '/proc/PID/stat'`) when no process `pid` exists;
 *   `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` when `pid` is not a positive
 *   integer; `ENOSYS` on platforms other than Linux and macOS. On macOS, ESRCH has `syscall: 'proc_pidinfo'` and no `path`.
 */
export function processTree(pid: number): ProcessInfo[] {
  if (DARWIN) {
    checkPid(pid);
    return darwinProcessTree(pid);
  }
  requireLinux('processTree');
  checkPid(pid);
  const root = readStat(pid);
  if (!root) throw systemError('ESRCH', 'open', `/proc/${pid}/stat`);
  const bootTime = readBootTime();

  // One pass over /proc: ppid → children.
  const children = new Map<number, StatFields[]>();
  for (const name of fs.readdirSync('/proc')) {
    const child = /^\d+$/.test(name) ? Number(name) : 0;
    if (!child || child === pid) continue;
    const stat = readStat(child);
    if (!stat) continue;
    let list = children.get(stat.ppid);
    if (!list) children.set(stat.ppid, (list = []));
    list.push(stat);
  }
  for (const list of children.values()) list.sort((a, b) => a.startTicks - b.startTicks || a.pid - b.pid);

  const out: ProcessInfo[] = [];
  const seen = new Set<number>();
  const visit = (stat: StatFields, depth: number): void => {
    if (seen.has(stat.pid)) return;
    seen.add(stat.pid);
    const zombie = stat.state === 'Z';
    out.push({
      pid: stat.pid,
      ppid: stat.ppid,
      command: stat.comm,
      args: readArgs(stat.pid),
      state: stat.state as ProcessState,
      zombie,
      startTime: ticksToDate(bootTime, stat.startTicks),
      depth,
      descriptorCount: countDescriptors(stat.pid, zombie),
    });
    for (const child of children.get(stat.pid) ?? []) visit(child, depth + 1);
  };
  visit(root, 0);
  return out;
}

/**
 * The zombies among the descendants of `pid` (not `pid` itself): children,
 * grandchildren, ... in state `Z`, which have exited and whose parent has not
 * yet reaped them with wait(). Same order and shape as {@link processTree}.
 *
 * @throws as {@link processTree}.
 */
export function zombies(pid: number): ProcessInfo[] {
  return processTree(pid).filter((p) => p.depth > 0 && p.zombie);
}

// ---------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------

const O_ACCMODE = 0o3;
const TTY_PATH = /^\/dev\/(pts\/\d+|tty\w*|console|ptmx)$/;

function isTtyMajor(m: number): boolean {
  // 4: tty0-63 / ttyS*, 5: /dev/tty, console, ptmx, 136-143: /dev/pts/*
  return m === 4 || m === 5 || (m >= 136 && m <= 143);
}

function classify(target: string, stat: fs.BigIntStats): DescriptorType {
  if (target.startsWith('socket:[')) return 'socket';
  if (target.startsWith('pipe:[') || stat.isFIFO()) return 'pipe';
  if (target.startsWith('anon_inode:')) return 'anon';
  if (stat.isCharacterDevice() && (isTtyMajor(major(Number(stat.rdev))) || TTY_PATH.test(target))) return 'tty';
  if (target.startsWith('/')) return 'file';
  if (stat.isSocket()) return 'socket';
  return 'other';
}

function accessOf(flags: number): Descriptor['access'] {
  switch (flags & O_ACCMODE) {
    case 0:
      return 'read';
    case 1:
      return 'write';
    case 2:
      return 'read-write';
    default:
      return null;
  }
}

/** Socket tables shared by the calls of one public operation, per network namespace. */
type SocketTableCache = Map<string, ReturnType<typeof readSocketTables>>;

function socketTables(pid: number, cache: SocketTableCache): ReturnType<typeof readSocketTables> {
  let ns: string | null = null;
  try {
    ns = fs.readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    // Unknown namespace: read without caching.
  }
  const cached = ns === null ? undefined : cache.get(ns);
  if (cached) return cached;
  const tables = readSocketTables(pid);
  if (ns !== null) cache.set(ns, tables);
  return tables;
}

function readDescriptors(pid: number, cache: SocketTableCache): Descriptor[] {
  const dir = `/proc/${pid}/fd`;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (isGone(err)) throw systemError('ESRCH', 'scandir', dir);
    throw err; // EACCES / EPERM: Node's own SystemError, with code, syscall and path.
  }
  const fds = names.map(Number).sort((a, b) => a - b);
  const out: Descriptor[] = [];
  let sockets: ReturnType<typeof readSocketTables> | null = null;
  for (const fd of fds) {
    const link = `${dir}/${fd}`;
    let target: string;
    let stat: fs.BigIntStats;
    try {
      target = fs.readlinkSync(link);
      stat = fs.statSync(link, { bigint: true });
    } catch (err) {
      if (isGone(err)) continue; // closed meanwhile
      throw err;
    }
    let info = null;
    try {
      info = parseFdinfo(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1'));
    } catch (err) {
      if (!isGone(err) && !isDenied(err)) throw err;
    }
    const type = classify(target, stat);
    let socket: SocketInfo | null = null;
    if (type === 'socket') {
      sockets ??= socketTables(pid, cache);
      socket = sockets.get(Number(stat.ino)) ?? null;
    }
    out.push({
      fd,
      type,
      target,
      device: Number(stat.dev),
      inode: Number(stat.ino),
      identity: `${stat.dev}:${stat.ino}`,
      access: info ? accessOf(info.flags) : null,
      flags: info ? info.flags : null,
      pos: info ? info.pos : null,
      socket,
    });
  }
  return out;
}

/**
 * Every open descriptor of process `pid`, by ascending fd.
 *
 * Sources: /proc/PID/fd/N (readlink for `target`, stat for `device`/`inode`),
 * /proc/PID/fdinfo/N (`pos`, `flags`), and for sockets /proc/PID/net/tcp,
 * tcp6, udp, udp6 and unix, matched by inode (the tables of the process's own
 * network namespace). A descriptor closed during the read is left out.
 *
 * A zombie has no descriptors: the result is `[]`.
 *
 * @throws `ESRCH` (`syscall: 'scandir'`, `path: '/proc/PID/fd'`) when no process
 *   `pid` exists; Node's `EACCES` / `EPERM` fs error when you may not inspect it
 *   (another user's process without CAP_SYS_PTRACE); `ENOSYS` off Linux and macOS;
 *   `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a bad `pid`.
 */
export function descriptors(pid: number): Descriptor[] {
  if (DARWIN) {
    checkPid(pid);
    return darwinDescriptors(pid);
  }
  requireLinux('descriptors');
  checkPid(pid);
  return readDescriptors(pid, new Map());
}

/**
 * Groups the descriptors of `pids` by the object they refer to, and returns
 * the groups referenced from more than one (pid, fd): descriptors inherited
 * across fork(), passed over a Unix socket (SCM_RIGHTS) or dup()ed.
 *
 * The key is {@link Descriptor.identity}, `"device:inode"`. For a socket this
 * identifies one open file description exactly (a socket has one inode and
 * can only be shared, never re-opened). For pipes and files it identifies the
 * pipe or file: both ends of one pipe share a key (tell them apart by
 * `access`), and so do two independent open()s of one file. `anon` descriptors
 * (eventfd, epoll, ...) are left out, because most of them share one kernel
 * inode whatever they are. Telling open file descriptions apart exactly
 * needs kcmp(2), which /proc does not offer.
 *
 * Refs are in the order of `pids`, then by fd. Pids that do not exist (any
 * more) are skipped; duplicate pids count once.
 *
 * @throws Node's `EACCES` / `EPERM` fs error for a process you may not inspect;
 *   `ENOSYS` off Linux and macOS; `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE` for a bad pid.
 */
export function sharedDescriptors(pids: number[]): Map<string, DescriptorRef[]> {
  if (!DARWIN) requireLinux('sharedDescriptors');
  const unique = [...new Set(pids)];
  unique.forEach((pid) => checkPid(pid));
  const cache: SocketTableCache = new Map();
  const lists: Array<[number, Descriptor[]]> = [];
  for (const pid of unique) {
    try {
      lists.push([pid, DARWIN ? darwinDescriptors(pid) : readDescriptors(pid, cache)]);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      throw err;
    }
  }
  return groupByIdentity(lists);
}

// The fork moment: each accepted connection's stages (accept, fork, the parent's close, the child's exit, the reap).
export { ForkTimeline, FORK_STAGES, describeForkConnection, type ForkConnection, type ForkStage, type ForkStageSeen, type TimelineProcess } from './observe/timeline.js';
