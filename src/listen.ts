/**
 * The listening socket, made with forkserve/posix calls: TCP on IPv4 or
 * IPv6, an AF_UNIX path, a descriptor the caller passed (fd://N), or the
 * one systemd passed (sd_listen_fds(3)).
 */
import fs from 'node:fs';
import { SystemError } from './errors.js';
import { AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, SO_REUSEPORT, bind, close, connect, getpid, getsockname, listen, setsockopt, socket, type SockAddr } from './posix.js';

export interface ListenOptions {
  host: string;
  port: number;
  backlog: number;
  reusePort?: boolean;
}

/** "127.0.0.1:8888", "[::1]:8888": an address as --bind takes it. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The sentence a user needs when bind(2) fails: what happened to which address, and what to do. */
function bindFailure(err: SystemError, host: string, port: number): SystemError {
  const where = formatHostPort(host, port);
  let what: string;
  switch (err.code) {
    case 'EADDRINUSE': what = `Cannot listen on ${where}: the address is already in use (EADDRINUSE). Stop the server that holds it, or choose another port with --bind`; break;
    case 'EACCES': what = `Cannot listen on ${where}: permission denied (EACCES).${port < 1024 ? ' Ports below 1024 need root or CAP_NET_BIND_SERVICE: choose a port from 1024 up with --bind' : ''}`; break;
    case 'EADDRNOTAVAIL': what = `Cannot listen on ${where}: no interface of this machine has that address (EADDRNOTAVAIL)`; break;
    case 'EINVAL': case 'EAFNOSUPPORT': what = `Cannot listen on ${where}: "${host}" is not a numeric IPv4 or IPv6 address (${err.code})`; break;
    default: return err;
  }
  return new SystemError(what, { code: err.code, errno: err.errno, syscall: err.syscall });
}

/**
 * Returns a bound, listening TCP socket and its address. Throws SystemError
 * whose message names the address and what to do: EADDRINUSE, EACCES,
 * EADDRNOTAVAIL, EINVAL (host not numeric); bind(2), listen(2).
 */
export function listenSocket(opts: ListenOptions): { fd: number; address: SockAddr } {
  const host = opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  const fd = socket(host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  try {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (opts.reusePort && SO_REUSEPORT !== undefined) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    try {
      bind(fd, host, opts.port);
    } catch (err) {
      throw err instanceof SystemError ? bindFailure(err, host, opts.port) : err;
    }
    listen(fd, opts.backlog);
    return { fd, address: getsockname(fd) };
  } catch (err) {
    close(fd);
    throw err;
  }
}

/** A --bind value that is not an address: the CLI exits 2. */
export class BindSyntaxError extends TypeError {}

/** What a --bind value names. */
export type BindTarget =
  | { kind: 'tcp'; host: string; port: number; allInterfaces: boolean }
  | { kind: 'unix'; path: string }
  | { kind: 'fd'; fd: number };

const FORMS = 'HOST:PORT, [IPv6]:PORT, :PORT (all interfaces), PORT, unix:PATH or fd://N';

/**
 * Parses a --bind value: gunicorn's forms "HOST:PORT", "[IPv6]:PORT",
 * ":PORT" (every IPv4 interface, 0.0.0.0), "PORT" (127.0.0.1),
 * "localhost:PORT", "unix:PATH" (an AF_UNIX socket), and "fd://N" (a
 * listening socket this process inherited on descriptor N). Ports are 0 to
 * 65535 (0: the kernel picks one). Throws BindSyntaxError (a TypeError)
 * saying which forms are expected.
 */
export function parseBindTarget(bindSpec: string): BindTarget {
  if (bindSpec.startsWith('unix:')) {
    const path = bindSpec.slice(5);
    if (!path) throw new BindSyntaxError(`Invalid --bind "${bindSpec}": no path after unix: (expected ${FORMS})`);
    return { kind: 'unix', path };
  }
  if (bindSpec.startsWith('fd://')) {
    const n = bindSpec.slice(5);
    if (!/^\d+$/.test(n)) throw new BindSyntaxError(`Invalid --bind "${bindSpec}": fd://N takes a descriptor number (expected ${FORMS})`);
    return { kind: 'fd', fd: Number(n) };
  }
  return { kind: 'tcp', ...parseBind(bindSpec) };
}

/**
 * Parses a TCP --bind value (gunicorn's forms): "HOST:PORT", "[IPv6]:PORT",
 * ":PORT" (every IPv4 interface, 0.0.0.0), "PORT" (127.0.0.1), or
 * "localhost:PORT". Ports are 0 to 65535 (0: the kernel picks one). Throws
 * BindSyntaxError (a TypeError) saying which form was expected.
 */
export function parseBind(bindSpec: string): { host: string; port: number; allInterfaces: boolean } {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(bindSpec) ?? /^([^:[\]]*):([^:]*)$/.exec(bindSpec) ?? /^()([^:]*)$/.exec(bindSpec);
  if (!m || (m.index === 0 && bindSpec.startsWith('[') && m[1] === '')) {
    throw new BindSyntaxError(`Invalid --bind "${bindSpec}": expected ${FORMS}`);
  }
  const portText = m[2];
  const port = Number(portText);
  if (!/^\d+$/.test(portText)) throw new BindSyntaxError(`Invalid --bind "${bindSpec}": the port "${portText}" is not a number (expected HOST:PORT, [IPv6]:PORT, :PORT or PORT)`);
  if (port > 65535) throw new BindSyntaxError(`Invalid --bind "${bindSpec}": port ${port} is out of range (0 to 65535)`);
  const explicit = bindSpec.includes(':');
  const host = explicit ? (m[1] || '0.0.0.0') : '127.0.0.1';
  return { host: host === 'localhost' ? '127.0.0.1' : host, port, allInterfaces: host === '0.0.0.0' || host === '::' };
}

/** A socket to serve, however it was obtained. */
export interface Listener {
  fd: number;
  /** getsockname(2): for AF_UNIX, family 'unix' and the path in `address`. */
  address: SockAddr;
  /** How it is named in logs: http://127.0.0.1:8888, http://[::1]:8888, unix:/run/app.sock. */
  label: string;
  /** Where it came from, when it was not made here: 'systemd' (LISTEN_FDS), 'fd' (fd://N) or 'upgrade' (an old master's, SIGUSR2). */
  inherited?: 'systemd' | 'fd' | 'upgrade';
  /** Undoes what making it left behind (the socket file of a unix: listener), in the process that made it; closes nothing. */
  cleanup(): void;
}

function labelOf(address: SockAddr): string {
  return address.family === 'unix' ? `unix:${address.address}` : `http://${formatHostPort(address.address, address.port)}`;
}

/**
 * A unix:PATH listener. A socket file left by a server that is gone (connect
 * says ECONNREFUSED) is replaced; one a live server answers on, or a path
 * that is not a socket, is EADDRINUSE with a sentence saying so. The socket
 * file gets mode 0666, so that a proxy running as another user (nginx's
 * workers) can connect: who may reach it is decided by the directory's
 * permissions, as with gunicorn's default umask. It is removed when the
 * server stops (cleanup), if it is still the one this process made.
 */
function unixListener(path: string, backlog: number): Listener {
  const where = `unix:${path}`;
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(path);
  } catch {
    // nothing there
  }
  if (existing) {
    if (!existing.isSocket()) {
      throw new SystemError(`Cannot listen on ${where}: the path exists and is not a socket (EADDRINUSE). Remove it or choose another path`, { code: 'EADDRINUSE', errno: -98, syscall: 'bind' });
    }
    const probe = socket(AF_UNIX, SOCK_STREAM);
    let live = false;
    try {
      connect(probe, path);
      live = true;
    } catch {
      // ECONNREFUSED: nobody accepts on it any more
    } finally {
      close(probe);
    }
    if (live) throw new SystemError(`Cannot listen on ${where}: another server is listening on it (EADDRINUSE). Stop it, or choose another path`, { code: 'EADDRINUSE', errno: -98, syscall: 'bind' });
    fs.unlinkSync(path);
  }
  const fd = socket(AF_UNIX, SOCK_STREAM);
  try {
    try {
      bind(fd, path);
    } catch (err) {
      const e = err as SystemError;
      if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EINVAL') {
        const why = e.code === 'ENOENT' ? 'its directory does not exist' : e.code === 'EACCES' ? 'permission denied' : 'the path is longer than a socket address holds (108 bytes)';
        throw new SystemError(`Cannot listen on ${where}: ${why} (${e.code})`, { code: e.code, errno: e.errno, syscall: 'bind' });
      }
      throw err;
    }
    fs.chmodSync(path, 0o666);
    listen(fd, backlog);
  } catch (err) {
    close(fd);
    throw err;
  }
  return { fd, address: { family: 'unix', address: path, port: 0 }, label: where, cleanup: unlinker(path) };
}

/** Removes the socket file at `path` if it is still the one there now, and only in this process. */
function unlinker(path: string): () => void {
  let made: number | undefined;
  try {
    made = fs.statSync(path).ino;
  } catch {
    return () => {};
  }
  const owner = getpid();
  return () => {
    try {
      if (getpid() === owner && fs.statSync(path).ino === made) fs.unlinkSync(path);
    } catch {
      // already gone
    }
  };
}

/** A listener on a descriptor this process was given; throws SystemError EBADF/ENOTSOCK (getsockname) when it is not a socket. */
function inheritedListener(fd: number, from: 'systemd' | 'fd' | 'upgrade'): Listener {
  let address: SockAddr;
  try {
    address = getsockname(fd);
  } catch (err) {
    const e = err as SystemError;
    const hint = from === 'systemd' ? 'the descriptor systemd passed' : from === 'upgrade' ? 'the descriptor the old master passed (FORKSERVE_FDS)' : `--bind fd://${fd}`;
    throw new SystemError(`Cannot serve ${hint}: descriptor ${fd} is not an open socket (${e.code})`, { code: e.code, errno: e.errno, syscall: e.syscall });
  }
  // An upgraded master owns a unix: socket file as the one that made it did.
  const cleanup = from === 'upgrade' && address.family === 'unix' && address.address ? unlinker(address.address) : () => {};
  return { fd, address, label: labelOf(address), inherited: from, cleanup };
}

/** The listener of a socket an old master passed on descriptor fd (SIGUSR2, src/upgrade.ts). */
export function upgradeListener(fd: number): Listener {
  return inheritedListener(fd, 'upgrade');
}

/**
 * The sockets systemd passed, with sd_listen_fds(3)'s rules: LISTEN_PID
 * must be this process, the descriptors are 3 to 3+LISTEN_FDS-1, and the
 * variables (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES) are removed so that
 * nothing this process starts takes them for its own. [] when none.
 */
export function systemdListenFds(env: NodeJS.ProcessEnv = process.env): number[] {
  const pid = Number(env.LISTEN_PID);
  const count = Number(env.LISTEN_FDS);
  if (!env.LISTEN_FDS || pid !== getpid() || !Number.isInteger(count) || count <= 0) return [];
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return Array.from({ length: count }, (_, i) => 3 + i);
}

/**
 * Opens what `target` names, listening with `backlog`. Throws SystemError
 * with a sentence naming the address and what to do (EADDRINUSE, EACCES,
 * EADDRNOTAVAIL, EINVAL; for unix:PATH also ENOENT; for fd://N EBADF,
 * ENOTSOCK).
 */
export function openListener(target: BindTarget, opts: { backlog: number; reusePort?: boolean }): Listener {
  switch (target.kind) {
    case 'unix': return unixListener(target.path, opts.backlog);
    case 'fd': return inheritedListener(target.fd, 'fd');
    case 'tcp': {
      const { fd, address } = listenSocket({ host: target.host, port: target.port, backlog: opts.backlog, reusePort: opts.reusePort });
      return { fd, address, label: labelOf(address), cleanup: () => {} };
    }
  }
}

/** The listener of a socket systemd passed on descriptor fd. */
export function systemdListener(fd: number): Listener {
  return inheritedListener(fd, 'systemd');
}
