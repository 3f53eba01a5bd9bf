/**
 * forkserve/posix: real POSIX calls for TypeScript, one function per system
 * call, named as in the man pages (section 2 unless noted). Enough to write
 * the classic forking server line by line:
 *
 *   const fd = socket(AF_INET, SOCK_STREAM);
 *   setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
 *   bind(fd, '127.0.0.1', 8888); listen(fd, 5);
 *   for (;;) { const { fd: conn } = accept(fd); if (fork() === 0) { close(fd); ...; _exit(0); } close(conn); }
 *
 * Descriptors are plain numbers. Failures throw SystemError with `code`
 * (the errno name, e.g. 'EINTR', 'EAGAIN', 'EMFILE', 'ECHILD'), `errno`
 * (negative, as in Node) and `syscall`; misuse throws TypeError/RangeError.
 * Blocking calls run pending TypeScript signal handlers before they return
 * or throw (see signals.ts).
 */
import { native, type ForkParking, type RawAddress, type RawOpenFile, type RawWaitStatus } from './native.js';
export type { ForkParking } from './native.js';
import { withSignals } from './signals.js';

export { SystemError } from './errors.js';
export { sigaction, dispatchSignals, type SignalName, type SignalHandler, type SigactionOptions } from './signals.js';

/** Constants under their POSIX names (values of this platform). */
export const constants: Readonly<Record<string, number>> = Object.freeze({ ...native.constants });
export const {
  AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET, SO_REUSEADDR, SO_REUSEPORT,
  SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SO_ERROR, IPPROTO_TCP, TCP_NODELAY, SHUT_RD, SHUT_WR,
  SHUT_RDWR, SOMAXCONN, MSG_PEEK, MSG_DONTWAIT, WNOHANG, WUNTRACED, RLIMIT_NOFILE,
  RLIMIT_NPROC, RLIMIT_CORE, RLIM_INFINITY, SA_RESTART, SIGHUP, SIGINT, SIGQUIT, SIGABRT,
  SIGKILL, SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGCONT, SIGSTOP,
  SIGTTIN, SIGTTOU,
} = constants as Record<string, number>;

/** A socket address: `family` 'IPv4' | 'IPv6' | 'unix', numeric `address`, `port` (0 for unix). */
export type SockAddr = RawAddress;

/**
 * The status reported by waitpid(2), decoded: `exited` with `exitCode`
 * (WIFEXITED/WEXITSTATUS) or `signaled` with `signal`, a name like 'SIGSEGV'
 * (WIFSIGNALED/WTERMSIG). `pid` is 0 when WNOHANG found no child to reap.
 */
export type WaitStatus = RawWaitStatus;

/** socket(2): returns a new descriptor (close-on-exec). Codes: EMFILE, ENFILE, EAFNOSUPPORT, EINVAL. */
export function socket(domain: number, type: number, protocol = 0): number {
  return native.socket(domain, type, protocol);
}

/** socketpair(2): two connected descriptors (AF_UNIX, SOCK_STREAM), close-on-exec. Codes: EMFILE, ENFILE. */
export function socketpair(domain = AF_UNIX, type = SOCK_STREAM): [number, number] {
  return native.socketpair(domain, type);
}

/** setsockopt(2) with an integer or boolean value (SO_REUSEADDR, SO_REUSEPORT, TCP_NODELAY...). Codes: EBADF, ENOPROTOOPT, EINVAL. */
export function setsockopt(fd: number, level: number, name: number, value: number | boolean): void {
  native.setsockopt(fd, level, name, value);
}

/** getsockopt(2) for an integer option; returns its value. Codes: EBADF, ENOPROTOOPT. */
export function getsockopt(fd: number, level: number, name: number): number {
  return native.getsockopt(fd, level, name);
}

/**
 * bind(2). An AF_INET/AF_INET6 socket takes a numeric `host` and a `port`
 * (0 picks a free port); an AF_UNIX socket takes a path and no port
 * (`'@name'` is Linux's abstract namespace, unix(7)). Codes: EADDRINUSE,
 * EACCES, EINVAL (a non-numeric host, a path longer than sun_path),
 * ENOENT (no such directory for the path). RangeError for a port outside
 * 0..65535.
 */
export function bind(fd: number, host: string, port?: number): void {
  native.bind(fd, host, port);
}

/** connect(2) to a numeric host and port, or (no port) an AF_UNIX path; blocking. Codes: ECONNREFUSED, ENOENT, ETIMEDOUT, EINTR, EINVAL. */
export function connect(fd: number, host: string, port?: number): void {
  withSignals(() => native.connect(fd, host, port));
}

/**
 * sendto(2): one datagram from `buf` to the AF_UNIX `path` ('@name':
 * abstract), on an AF_UNIX SOCK_DGRAM socket; returns the bytes sent. The
 * call sd_notify(3) makes. Codes: ECONNREFUSED, ENOENT, EAGAIN, EINVAL
 * (a path longer than sun_path).
 */
export function sendto(fd: number, buf: Buffer, path: string): number {
  return native.sendto(fd, buf, path);
}

/** listen(2) with a `backlog` of pending connections. Codes: EADDRINUSE, EBADF, EOPNOTSUPP. */
export function listen(fd: number, backlog: number): void {
  native.listen(fd, backlog);
}

/**
 * accept(2), blocking: returns the new connection's descriptor and the peer
 * address. The connection is blocking and close-on-exec. Codes: EINTR (a
 * signal handler installed without SA_RESTART ran), EAGAIN (non-blocking
 * listener, none pending), EMFILE, ENFILE, ECONNABORTED.
 */
export function accept(fd: number): { fd: number; address: SockAddr } {
  return withSignals(() => native.accept(fd));
}

/** getsockname(2): the local address of a socket. Codes: EBADF, ENOTSOCK. */
export function getsockname(fd: number): SockAddr {
  return native.getsockname(fd);
}

/** getpeername(2): the remote address of a connected socket. Codes: ENOTCONN, EBADF. */
export function getpeername(fd: number): SockAddr {
  return native.getpeername(fd);
}

/** read(2) into `buf[offset, offset + length)`: returns bytes read, 0 at end of file. Codes: EINTR, EAGAIN, ECONNRESET, EBADF. */
export function read(fd: number, buf: Buffer, offset?: number, length?: number): number {
  return withSignals(() => native.read(fd, buf, offset, length));
}

/** recv(2) into `buf` with `flags` (MSG_PEEK, MSG_DONTWAIT): returns bytes read, 0 at end. Codes: as read. */
export function recv(fd: number, buf: Buffer, flags = 0): number {
  return withSignals(() => native.recv(fd, buf, flags));
}

/** write(2) from `buf[offset, offset + length)`: returns bytes written, possibly fewer. Codes: EINTR, EAGAIN, EPIPE, ECONNRESET. */
export function write(fd: number, buf: Buffer, offset?: number, length?: number): number {
  return withSignals(() => native.write(fd, buf, offset, length));
}

/** send(2) with MSG_NOSIGNAL added where it exists (a closed peer is EPIPE, not SIGPIPE). Codes: as write. */
export function send(fd: number, buf: Buffer, flags = 0): number {
  return withSignals(() => native.send(fd, buf, flags));
}

/** Writes all of `buf`, retrying short writes and EINTR (Python's sendall). Codes: EPIPE, ECONNRESET. */
export function sendall(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += write(fd, buf, off);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EINTR') throw err;
    }
  }
}

/** shutdown(2) with SHUT_RD, SHUT_WR or SHUT_RDWR. Codes: ENOTCONN, EBADF. */
export function shutdown(fd: number, how: number): void {
  native.shutdown(fd, how);
}

/** close(2). Codes: EBADF, EIO. */
export function close(fd: number): void {
  native.close(fd);
}

/** Sets or clears O_NONBLOCK with fcntl(2) F_SETFL. Codes: EBADF. */
export function setNonBlocking(fd: number, on = true): void {
  native.setNonBlocking(fd, on);
}

/**
 * fork(2): returns 0 in the child and the child's pid in the parent. The
 * child runs synchronous and asynchronous JS (promises, timers,
 * fs.promises): on Linux the V8 heap is made inheritable first
 * (MADV_DOFORK), and the child's event loop is re-initialised with
 * uv_loop_fork(). Only the calling thread exists in the child; end it with
 * `_exit()`, never `process.exit()`. `process.pid` is corrected in the child.
 * Node's platform threads are parked in a task of forkserve's for the
 * duration of the call, so the child inherits the platform's task queue with
 * no waiter and no lock held (see `forkParking()`, docs/fork-in-node.md §2).
 * Codes: EAGAIN (RLIMIT_NPROC reached, or no memory for the process table), ENOMEM.
 */
export function fork(): number {
  const pid = native.fork();
  if (pid === 0) {
    // Node caches process.pid at start-up; the child would report its parent's.
    Object.defineProperty(process, 'pid', { value: native.getpid(), configurable: true, enumerable: true, writable: false });
  }
  return pid;
}

/**
 * Not POSIX: counters of what `fork()` did with Node's platform worker
 * threads (the threads V8 posts background tasks to). `forksUnparked`
 * counts forks made after a thread stayed busy for 1 s: such a child may
 * hang in its first few background posts. FORKSERVE_NO_PARKING=1 in the
 * environment when the addon loads turns parking off (for demonstrations).
 */
export function forkParking(): ForkParking {
  return native.forkParking();
}

/**
 * waitpid(2): waits for a child (`pid` -1 for any) and returns its decoded
 * status. With WNOHANG returns `{ pid: 0 }` when no child has exited yet.
 * Codes: ECHILD (no such child), EINTR (blocking wait interrupted by a handler without SA_RESTART).
 */
export function waitpid(pid: number, options = 0): WaitStatus {
  return withSignals(() => native.waitpid(pid, options));
}

/** _exit(2): ends the process at once with `status` (0..255), without atexit handlers or flushing JS streams. */
export function _exit(status = 0): never {
  return native._exit(status);
}

/** getpid(2): the calling process's pid, correct in a forked child. */
export function getpid(): number {
  return native.getpid();
}

/** getppid(2): the parent's pid. */
export function getppid(): number {
  return native.getppid();
}

/** kill(2): sends `signal` (a number, or a name like 'SIGTERM') to `pid`. Codes: ESRCH, EPERM. */
export function kill(pid: number, signal: number | string): void {
  const signo = typeof signal === 'string' ? constants[signal] : signal;
  if (signo === undefined) throw new TypeError(`Unknown signal: ${String(signal)}`);
  native.kill(pid, signo);
}

/** getrlimit(2): `{ soft, hard }` for RLIMIT_NOFILE, RLIMIT_NPROC...; RLIM_INFINITY is -1. Codes: EINVAL. */
export function getrlimit(resource: number): { soft: number; hard: number } {
  return native.getrlimit(resource);
}

/** setrlimit(2): sets `{ soft, hard }` (-1 for RLIM_INFINITY). Codes: EPERM (raising hard), EINVAL (soft > hard). */
export function setrlimit(resource: number, limits: { soft: number; hard: number }): void {
  native.setrlimit(resource, limits.soft, limits.hard);
}

/**
 * execv(3): replaces the process image; returns only by throwing.
 * Descriptors 0-2, and those in `keep`, are inherited (FD_CLOEXEC cleared:
 * Node sets it on every descriptor it inherited). Codes: ENOENT, EACCES,
 * ENOEXEC.
 */
export function execv(path: string, args: string[], keep: number[] = []): never {
  return native.execv(path, args, keep);
}

/**
 * fork(2) then execve(2), as posix_spawn(3): the child runs no JavaScript,
 * only the async-signal-safe steps before the exec (every signal back to
 * SIG_DFL, an empty signal mask, FD_CLOEXEC cleared on 0-2 and on `keep`).
 * `env` is the new program's whole environment (default: this process's).
 * Returns the child's pid, to be reaped with waitpid(2). Codes: EAGAIN,
 * ENOMEM (fork); a failed exec is the child's exit status 127.
 */
export function forkExec(path: string, args: string[], options: { env?: NodeJS.ProcessEnv; keep?: number[] } = {}): number {
  const env = Object.entries(options.env ?? process.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  return native.forkExec(path, args, env, options.keep ?? []);
}

/** alarm(2): SIGALRM after `seconds` (0 cancels); returns the seconds left on the previous alarm. */
export function alarm(seconds: number): number {
  return native.alarm(seconds);
}

/**
 * An open file: its descriptor and what fstat(2) says of it. `kind` is
 * 'file' (S_ISREG), 'directory' or 'other' (FIFO, device, socket); `size`
 * in bytes; `mtimeSec`/`mtimeNsec` are st_mtim; `ino`/`dev` identify it.
 */
export type OpenFile = RawOpenFile;

/**
 * Opens `path` beneath the directory open on `dirFd`, and never outside it:
 * one openat(2) per component, read-only, O_CLOEXEC and O_NONBLOCK (a FIFO
 * cannot block the open), each with O_NOFOLLOW unless `followSymlinks`.
 * Leading '/' are ignored; "" and "/" open the directory itself. `path` is
 * bytes (a Buffer, as percent-decoding yields) or a UTF-8 string. Returns
 * the descriptor, which the caller closes, with its fstat(2).
 *
 * Throws SystemError (syscall 'openat'): EXDEV for a ".." component (the
 * errno of openat2(2)'s RESOLVE_BENEATH), ELOOP for a symlink anywhere on
 * the path unless `followSymlinks`, ENOENT (also for an empty component or
 * a NUL byte), ENOTDIR, EACCES, ENAMETOOLONG (a component over NAME_MAX).
 * TypeError on misuse.
 */
export function openBeneath(dirFd: number, path: Buffer | string, followSymlinks = false): OpenFile {
  return native.openBeneath(dirFd, path, followSymlinks);
}

/**
 * Lists the directory open on `fd` (readdir(3) on a duplicate: fd stays
 * open and its position unmoved), without "." and "..", in the directory's
 * order. Each entry is `[name, kind]`; a symlink's kind is 'other'.
 * Throws SystemError (syscall 'readdir': EBADF, ENOTDIR), TypeError on misuse.
 */
export function listDir(fd: number): Array<[string, 'file' | 'directory' | 'other']> {
  return native.listDir(fd);
}
