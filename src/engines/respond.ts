/**
 * What every engine does around a WSGI or Fetch app, in one place (the
 * blocking path, src/engines/connection.ts; the poll loop, poll.ts; the node
 * engine, node.ts): call the handler, where a throw or a rejected promise is
 * logged and answered 500; and log the response. Each engine writes the
 * response through its own sink (a native Connection, the poll server,
 * node:http), which is where they differ.
 */
import type { AppResponse, Handler, RequestInfo } from '../apps/index.js';
import { INTERNAL_ERROR, header } from '../apps/responses.js';
import type { Logger } from '../log.js';

/** Logs the app's failure and returns the 500 it is answered with. */
function handlerFailed(log: Logger, req: RequestInfo, err: unknown): AppResponse {
  log.error(`Error handling request ${req.method} ${req.target}: ${(err as Error)?.stack ?? String(err)}`);
  return INTERNAL_ERROR;
}

/**
 * Calls the app. A synchronous app's response is returned as is (no
 * promise: the poll engine answers it inside the native call); an
 * asynchronous one's promise never rejects. Never throws: a throw or a
 * rejection is logged ("Error handling request METHOD TARGET: stack") and
 * becomes INTERNAL_ERROR (500).
 */
export function callHandler(handler: Handler, req: RequestInfo, log: Logger): AppResponse | Promise<AppResponse> {
  let r: AppResponse | Promise<AppResponse>;
  try {
    r = handler(req);
  } catch (err) {
    return handlerFailed(log, req, err);
  }
  return r instanceof Promise ? r.then(undefined, (err) => handlerFailed(log, req, err)) : r;
}

/** Logs a response that failed while it was written ("Error writing response to METHOD TARGET: stack"). */
export function writeFailed(log: Logger, req: RequestInfo, err: unknown): void {
  log.error(`Error writing response to ${req.method} ${req.target}: ${(err as Error)?.stack ?? String(err)}`);
}

/** The access-log line of a response with `bytes` of body (negative: none), unless the access log is off. */
export function logResponse(log: Logger, req: RequestInfo, status: number, bytes: number): void {
  if (log.accessEnabled === false) return;
  log.access({
    remote: req.remoteAddress.replace(/^::ffff:/, ''), method: req.method, target: req.target, minorVersion: req.minorVersion, status,
    bytes: bytes > 0 ? bytes : 0, referer: header(req.headers, 'referer'), userAgent: header(req.headers, 'user-agent'),
  });
}
