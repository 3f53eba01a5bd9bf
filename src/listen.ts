/** The listening socket, made with forkserve/posix calls. */
import { SystemError } from './errors.js';
import { AF_INET, AF_INET6, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, SO_REUSEPORT, bind, close, getsockname, listen, setsockopt, socket, type SockAddr } from './posix.js';

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

/**
 * Parses a --bind value (gunicorn's forms): "HOST:PORT", "[IPv6]:PORT",
 * ":PORT" (every IPv4 interface, 0.0.0.0), "PORT" (127.0.0.1), or
 * "localhost:PORT". Ports are 0 to 65535 (0: the kernel picks one). Throws
 * BindSyntaxError (a TypeError) saying which form was expected.
 */
export function parseBind(bindSpec: string): { host: string; port: number; allInterfaces: boolean } {
  const m = /^\[([^\]]*)\]:([^:]*)$/.exec(bindSpec) ?? /^([^:[\]]*):([^:]*)$/.exec(bindSpec) ?? /^()([^:]*)$/.exec(bindSpec);
  if (!m || (m.index === 0 && bindSpec.startsWith('[') && m[1] === '')) {
    throw new BindSyntaxError(`Invalid --bind "${bindSpec}": expected HOST:PORT, [IPv6]:PORT, :PORT (all interfaces) or PORT`);
  }
  const portText = m[2];
  const port = Number(portText);
  if (!/^\d+$/.test(portText)) throw new BindSyntaxError(`Invalid --bind "${bindSpec}": the port "${portText}" is not a number (expected HOST:PORT, [IPv6]:PORT, :PORT or PORT)`);
  if (port > 65535) throw new BindSyntaxError(`Invalid --bind "${bindSpec}": port ${port} is out of range (0 to 65535)`);
  const explicit = bindSpec.includes(':');
  const host = explicit ? (m[1] || '0.0.0.0') : '127.0.0.1';
  return { host: host === 'localhost' ? '127.0.0.1' : host, port, allInterfaces: host === '0.0.0.0' || host === '::' };
}
