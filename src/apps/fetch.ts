/** The Fetch-style interface: a Request in, a Response out (WHATWG Fetch). */
import { isThenable, settle } from './body.js';
import { header } from './responses.js';
import { lazyRequest } from './request.js';
import { untouched } from './response.js';
import type { AppResponse, FetchApp, RequestInfo } from './types.js';

export { buildRequest } from './request.js';

async function* readBody(body: ReadableStream<Uint8Array>): AsyncGenerator<Buffer> {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    if (value.byteLength) yield Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
}

const EMPTY = Buffer.alloc(0);

// Node's Response (undici) keeps what it was built from in its state: with a
// string, a Buffer or an ArrayBuffer the bytes are there, and reading them
// through the ReadableStream would cost a reader and a promise per chunk.
// Used only while the body is unread; anything else (a stream, a Blob,
// FormData, another undici) takes the stream.
const kState = Object.getOwnPropertySymbols(new Response('')).find((s) => s.description === 'state');

/** The bytes of a body given as a string (encoded as UTF-8), a Uint8Array or an ArrayBuffer (both viewed, not copied); null for anything else. */
function bytesOf(source: unknown): Buffer | null {
  if (typeof source === 'string') return Buffer.from(source);
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  if (source instanceof ArrayBuffer) return Buffer.from(source);
  return null;
}

function bodyBytes(res: Response): Buffer | null {
  if (!kState || res.bodyUsed) return null;
  return bytesOf((res as unknown as Record<symbol, { body?: { source?: unknown } | null } | undefined>)[kState]?.body?.source);
}

/** [name, value, ...] of a Headers object or a ResponseInit's headers, as the Headers class lists them (each set-cookie on its own). */
function flatInit(init: HeadersInit | undefined): string[] {
  const out: string[] = [];
  if (init == null) return out;
  if (init instanceof Headers) {
    init.forEach((value, name) => { if (name !== 'set-cookie') out.push(name, value); });
    for (const cookie of init.getSetCookie()) out.push('set-cookie', cookie);
  } else if (Array.isArray(init)) {
    for (const [name, value] of init) out.push(String(name).toLowerCase(), String(value));
  } else {
    for (const name of Object.keys(init)) out.push(name.toLowerCase(), String((init as Record<string, string>)[name]));
  }
  return out;
}

function toAppResponse(res: unknown): AppResponse | Promise<AppResponse> {
  // A lightweight Response nobody touched: its parts as given, nothing built (response.ts).
  const parts = untouched(res);
  if (parts) {
    const headers = flatInit(parts.headers);
    // Fetch's "extract a body": a string body is text/plain;charset=UTF-8 unless the app said otherwise.
    if (typeof parts.body === 'string' && header(headers, 'content-type') === undefined) headers.push('content-type', 'text/plain;charset=UTF-8');
    const body = bytesOf(parts.body) ?? EMPTY;
    return { status: parts.status, reason: parts.statusText || undefined, headers, body };
  }
  if (!(res instanceof Response)) throw new TypeError('fetch() must return a Response');
  const headers = flatInit(res.headers);
  const reason = res.statusText || undefined;
  const stream = res.body;
  const bytes = stream ? bodyBytes(res) : EMPTY;
  if (bytes) return { status: res.status, reason, headers, body: bytes };
  return settle(readBody(stream!)).then((body) => ({ status: res.status, reason, headers, body }));
}

/**
 * Runs a Fetch-style app for one request: `app.fetch(request)` with a lazy
 * Request (request.ts). Synchronous when the app returns a Response (not a
 * promise) built from a string, a Buffer or an ArrayBuffer; a Promise
 * otherwise. A streamed body of more than one chunk is sent chunked.
 */
export function runFetch(app: FetchApp, req: RequestInfo): AppResponse | Promise<AppResponse> {
  const res = app.fetch(lazyRequest(req)) as Response | Promise<Response>;
  if (isThenable(res)) return Promise.resolve(res).then(toAppResponse);
  return toAppResponse(res);
}
