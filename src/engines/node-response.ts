/**
 * Writes an AppResponse to a node:http ServerResponse: what the node engine
 * does for WSGI and Fetch apps, and what serves static files beside a Node
 * request listener. The framing matches the native writer's
 * (native/http/response.cc): a Server field, Content-Length for a whole
 * body, none on 1xx/204/304.
 */
import type { ServerResponse } from 'node:http';
import { FileBody } from '../apps/file-body.js';
import { header } from '../apps/responses.js';
import type { AppResponse } from '../apps/index.js';

const hasHeader = (headers: string[], name: string) => header(headers, name) !== undefined;

/**
 * Sends `out` on `res` for a request of `method`; resolves with the body
 * bytes written. Rejects when the body fails midway (after destroying the
 * response, which cuts it short) or the head is refused (nothing sent: the
 * caller may answer 500).
 */
export async function writeResponse(res: ServerResponse, method: string, out: AppResponse): Promise<number> {
  const headers = hasHeader(out.headers, 'server') ? out.headers : ['Server', 'forkserve', ...out.headers];
  const noContent = out.status < 200 || out.status === 204 || out.status === 304; // RFC 9110 §8.6
  let body = out.body;
  let length: number | undefined;
  if (Buffer.isBuffer(body)) {
    // A HEAD answer with an empty body says nothing of the length (as native/http/response.cc).
    if (!(method === 'HEAD' && body.length === 0)) length = body.length;
  } else if (body instanceof FileBody) {
    length = body.length;
  }
  if (length !== undefined && !noContent && !hasHeader(headers, 'content-length') && !hasHeader(headers, 'transfer-encoding')) {
    headers.push('Content-Length', String(length));
  }
  try {
    res.writeHead(out.status, out.reason, headers);
  } catch (err) {
    if (body instanceof FileBody) body.close();
    throw err;
  }
  if (Buffer.isBuffer(body)) {
    res.end(body);
    return method === 'HEAD' ? 0 : body.length;
  }
  if (body instanceof FileBody) {
    if (method === 'HEAD' || noContent) {
      body.close();
      res.end();
      return 0;
    }
    body = body.stream();
  }
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      if (!res.write(chunk)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
      if (res.destroyed) break;
    }
  } catch (err) {
    res.destroy();
    throw err;
  }
  res.end();
  return bytes;
}
