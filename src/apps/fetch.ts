/** The Fetch-style interface: a Request in, a Response out (WHATWG Fetch). */
import { settle } from './body.js';
import type { AppResponse, FetchApp, RequestInfo } from './types.js';

/** Builds the WHATWG Request for one request. */
export function buildRequest(req: RequestInfo): Request {
  const headers = new Headers();
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) headers.append(h[i], h[i + 1]);
  const target = req.target;
  let url: string;
  if (target.startsWith('/')) {
    const host = headers.get('host') || `${req.serverName}:${req.serverPort}`;
    url = `http://${host}${target}`;
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    url = target;
  } else {
    url = `http://${req.serverName}:${req.serverPort}/`; // asterisk- and authority-form
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.body.length > 0;
  return new Request(url, { method: req.method, headers, body: hasBody ? (req.body as unknown as NonNullable<RequestInit["body"]>) : undefined });
}

async function* readBody(body: ReadableStream<Uint8Array>): AsyncGenerator<Buffer> {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value.byteLength) yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
}

/** Runs a Fetch-style app for one request. */
export async function runFetch(app: FetchApp, req: RequestInfo): Promise<AppResponse> {
  const res = await app.fetch(buildRequest(req));
  if (!(res instanceof Response)) throw new TypeError('fetch() must return a Response');
  const headers: string[] = [];
  res.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers.push(name, value);
  });
  for (const cookie of res.headers.getSetCookie()) headers.push('set-cookie', cookie);
  const body = res.body ? await settle(readBody(res.body)) : Buffer.alloc(0);
  // Fetch's Response may carry a computed content-length of its own; keep the app's if set.
  return { status: res.status, reason: res.statusText || undefined, headers, body };
}
