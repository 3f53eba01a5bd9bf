/**
 * Serves one connection with the native blocking reader and writer: read a
 * request, call the app, write the response; again while the connection
 * persists. Shared by the fork children, the iterative server and the
 * prefork workers.
 */
import { native } from '../native.js';
import type { AppResponse, Handler, RequestInfo } from '../apps/index.js';
import { INTERNAL_ERROR } from '../apps/responses.js';
import { callHandler, logResponse, writeFailed } from './respond.js';
import type { Logger } from '../log.js';
import { FileBody } from '../apps/file-body.js';

/** Limits and timeouts of the HTTP reader (RFC 9112 statuses in parentheses). */
export interface HttpLimits {
  /** Request line bytes (414). Default 8192. */
  maxRequestLine?: number;
  /** Header section bytes (431). Default 16384. */
  maxHeaderBytes?: number;
  /** Header field count (431). Default 100, at most 128. */
  maxHeaders?: number;
  /** Request body bytes (413). Default 1 GiB. */
  maxBodyBytes?: number;
  /** Milliseconds for the whole header section, and for each body read (408). Default 30000. */
  headersTimeoutMs?: number;
  /** Milliseconds an idle persistent connection is kept. Default 5000. */
  keepAliveTimeoutMs?: number;
  /** Allow persistent connections. Default true; the iterative engine sets false (one connection at a time). */
  keepAlive?: boolean;
  /**
   * Each connection starts with a PROXY protocol header (v1 or v2, from
   * HAProxy's send-proxy/send-proxy-v2), parsed natively before HTTP: its
   * source becomes the peer address. A connection without a valid one is
   * closed unanswered; one too slow is closed after headersTimeoutMs.
   */
  proxyProtocol?: boolean;
}

export interface NativeConnection {
  /** remoteAddress/remotePort: the client a PROXY header named (proxyProtocol). */
  readRequest(): null | { rejected: number } | { method: string; target: string; minorVersion: number; headers: string[]; body: Buffer; keepAlive: boolean; remoteAddress?: string; remotePort?: number };
  writeHead(status: number, reason: string | undefined, headers: string[], body?: Buffer | null): void;
  /** Writes the head, then the file range with sendfile(2); closes its descriptor (unless TypeError: invalid field). Throws SystemError 'sendfile'. */
  writeFile(status: number, reason: string | undefined, headers: string[], file: FileBody): void;
  write(chunk: Buffer): void;
  end(): void;
  close(): void;
  readonly keepAlive: boolean;
  readonly bodyBytes: number;
  readonly fd: number;
}

export interface ConnectionContext {
  handler: Handler;
  log: Logger;
  serverName: string;
  serverPort: number;
  remoteAddress: string;
  remotePort: number;
  limits: HttpLimits;
  /** Per-request deadline in seconds for the watchdog (0: none). */
  timeoutSeconds: number;
  /** Called after each response (prefork heartbeats and request counts). */
  onRequest?: () => void;
}

const NativeConnectionClass = native.Connection as new (fd: number, limits: HttpLimits) => NativeConnection;

/** Serves requests on fd until the connection ends; closes fd. */
export async function serveConnection(fd: number, ctx: ConnectionContext): Promise<void> {
  const conn = new NativeConnectionClass(fd, ctx.limits);
  try {
    for (;;) {
      const raw = conn.readRequest();
      if (raw === null) break;
      if ('rejected' in raw) {
        ctx.log.access({ remote: ctx.remoteAddress, method: '-', target: '-', minorVersion: 1, status: raw.rejected, bytes: 0 });
        break;
      }
      if (ctx.timeoutSeconds > 0) native.watchdog(fd, ctx.timeoutSeconds);
      const req: RequestInfo = {
        ...raw,
        remoteAddress: raw.remoteAddress ?? ctx.remoteAddress,
        remotePort: raw.remotePort ?? ctx.remotePort,
        serverName: ctx.serverName,
        serverPort: ctx.serverPort,
      };
      const res: AppResponse = await callHandler(ctx.handler, req, ctx.log);
      let status = res.status;
      let headWritten = false;
      try {
        if (Buffer.isBuffer(res.body)) {
          conn.writeHead(res.status, res.reason, res.headers, res.body);
          headWritten = true;
        } else if (res.body instanceof FileBody) {
          conn.writeFile(res.status, res.reason, res.headers, res.body);
          headWritten = true;
        } else {
          conn.writeHead(res.status, res.reason, res.headers, null);
          headWritten = true;
          for await (const chunk of res.body) conn.write(chunk);
          conn.end();
        }
      } catch (err) {
        // The peer went away, or a file changed while it was sent (ESTALE): the connection ends here.
        const syscall = (err as { syscall?: string }).syscall;
        if ((err as { code?: string }).code === 'ESTALE') ctx.log.error(`${raw.method} ${raw.target}: the file changed while it was sent: connection closed`);
        if (syscall === 'write' || syscall === 'sendfile') break;
        writeFailed(ctx.log, req, err);
        // A refused head (invalid field) sent nothing: answer 500. A body that
        // failed midway can only be cut short: close the connection.
        if (headWritten) break;
        if (res.body instanceof FileBody) res.body.close();
        status = 500;
        conn.writeHead(500, undefined, INTERNAL_ERROR.headers, INTERNAL_ERROR.body as Buffer);
      }
      if (ctx.timeoutSeconds > 0) native.watchdog(fd, 0);
      logResponse(ctx.log, req, status, conn.bodyBytes);
      ctx.onRequest?.();
      if (!conn.keepAlive) break;
    }
  } finally {
    conn.close();
  }
}
