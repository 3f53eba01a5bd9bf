/** The listening socket, made with forkserve/posix calls. */
import { AF_INET, AF_INET6, SOCK_STREAM, SOL_SOCKET, SO_REUSEADDR, SO_REUSEPORT, bind, close, getsockname, listen, setsockopt, socket, type SockAddr } from './posix.js';

export interface ListenOptions {
  host: string;
  port: number;
  backlog: number;
  reusePort?: boolean;
}

/** Returns a bound, listening TCP socket and its address. Codes: EADDRINUSE, EACCES, EINVAL (host not numeric). */
export function listenSocket(opts: ListenOptions): { fd: number; address: SockAddr } {
  const host = opts.host === 'localhost' ? '127.0.0.1' : opts.host;
  const fd = socket(host.includes(':') ? AF_INET6 : AF_INET, SOCK_STREAM);
  try {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (opts.reusePort && SO_REUSEPORT !== undefined) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    bind(fd, host, opts.port);
    listen(fd, opts.backlog);
    return { fd, address: getsockname(fd) };
  } catch (err) {
    close(fd);
    throw err;
  }
}

/** Parses "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT". Throws TypeError. */
export function parseBind(bindSpec: string): { host: string; port: number } {
  let host = '127.0.0.1';
  let portText = bindSpec;
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(bindSpec) ?? /^([^:]*):(\d+)$/.exec(bindSpec);
  if (m) {
    host = m[1] || '0.0.0.0';
    portText = m[2];
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new TypeError(`Invalid --bind "${bindSpec}": expected HOST:PORT`);
  return { host, port };
}
