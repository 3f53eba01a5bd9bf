/** The WSGI-style interface: environ in, startResponse + body out (PEP 3333 in TypeScript). */
import { isThenable, settle, toBuffer } from './body.js';
import type { AppResponse, BodyChunk, Environ, HeaderList, RequestInfo, WsgiApp, WsgiBody } from './types.js';

export const SERVER_SOFTWARE = 'forkserve';

/** Percent-decodes a path into a Latin-1 string, as PEP 3333 asks of PATH_INFO. */
function decodePath(path: string): string {
  if (!path.includes('%')) return path;
  return Buffer.from(path.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('latin1');
}

/** Splits a request-target into path and query (absolute-form gives its path; RFC 9112 §3.2.2). */
export function splitTarget(target: string): { path: string; query: string } {
  let rest = target;
  if (!rest.startsWith('/')) {
    const scheme = rest.indexOf('://');
    if (scheme > 0) {
      // The authority ends at the first '/', '?' or '#'; an empty path is '/' and keeps its query (http://host?x=1).
      let end = scheme + 3;
      while (end < rest.length && rest[end] !== '/' && rest[end] !== '?' && rest[end] !== '#') end++;
      rest = end >= rest.length || rest[end] === '#' ? '/' : rest[end] === '?' ? `/${rest.slice(end)}` : rest.slice(end);
    }
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * The CGI key of a header field name (`user-agent` -> `HTTP_USER_AGENT`),
 * memoised: a server sees the same few names on every request. A name with
 * `_` gets null: it would be indistinguishable from the dash-named field
 * (`Content_Length` would pose as `CONTENT_LENGTH`, `Transfer_Encoding` as
 * `HTTP_TRANSFER_ENCODING`), so such fields are dropped, as gunicorn's
 * default `header_map = drop` does.
 */
const cgiKeys = new Map<string, string | null>();
function cgiKey(name: string): string | null {
  let key = cgiKeys.get(name);
  if (key === undefined) {
    const upper = name.toUpperCase();
    key = upper.includes('_') ? null : upper === 'CONTENT-TYPE' || upper === 'CONTENT-LENGTH' ? upper.replace('-', '_') : `HTTP_${upper.replace(/-/g, '_')}`;
    if (cgiKeys.size < 1024) cgiKeys.set(name, key);
  }
  return key;
}

/** "5, 5" -> "5": the one value of a Content-Length list whose members the parser found equal. */
export function singleContentLength(value: string): string {
  const comma = value.indexOf(',');
  return comma < 0 ? value : value.slice(0, comma).trim();
}

const WSGI_VERSION: [1, 0] = Object.freeze([1, 0]) as unknown as [1, 0];

/**
 * Builds the environ of one request (PEP 3333's names and semantics): one
 * object literal of a fixed shape, then a key per header field. Fields
 * whose name holds `_` are dropped (cgiKey above).
 */
export function buildEnviron(req: RequestInfo, multiprocess = true): Environ {
  const { path, query } = splitTarget(req.target);
  const env: Record<string, unknown> = {
    REQUEST_METHOD: req.method,
    SCRIPT_NAME: '',
    PATH_INFO: req.method === 'OPTIONS' && path === '*' ? '*' : decodePath(path),
    QUERY_STRING: query,
    RAW_URI: req.target,
    CONTENT_TYPE: '',
    CONTENT_LENGTH: '',
    SERVER_NAME: req.serverName,
    SERVER_PORT: String(req.serverPort),
    SERVER_PROTOCOL: `HTTP/1.${req.minorVersion}`,
    SERVER_SOFTWARE,
    REMOTE_ADDR: req.remoteAddress,
    REMOTE_PORT: String(req.remotePort),
    'wsgi.version': WSGI_VERSION,
    'wsgi.url_scheme': req.scheme ?? 'http',
    'wsgi.input': req.body,
    'wsgi.errors': process.stderr,
    'wsgi.multithread': false,
    'wsgi.multiprocess': multiprocess,
    'wsgi.run_once': false,
  };
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const key = cgiKey(h[i]);
    if (key === null) continue;
    const value = h[i + 1];
    if (key === 'CONTENT_TYPE') {
      env[key] = value;
      continue;
    }
    if (key === 'CONTENT_LENGTH') {
      // The parser accepts a list of equal values (RFC 9110 §8.6) and equal repeated
      // fields; the app sees the one value (RFC 9112 §6.3), never "5, 5".
      env[key] = singleContentLength(value);
      continue;
    }
    const prev = env[key];
    env[key] = prev === undefined ? value : `${prev as string}, ${value}`;
  }
  // A chunked body has no Content-Length on the wire; the app sees the decoded length.
  if (env.CONTENT_LENGTH === '' && req.body.length > 0) env.CONTENT_LENGTH = String(req.body.length);
  return env as Environ;
}

/** Flattens header pairs or an object into [name, value, ...]. */
export function flattenHeaders(headers: HeaderList): string[] {
  const out: string[] = [];
  if (Array.isArray(headers)) {
    for (const pair of headers) {
      if (!Array.isArray(pair) || pair.length !== 2) throw new TypeError('startResponse headers must be [name, value] pairs');
      out.push(String(pair[0]), String(pair[1]));
    }
  } else if (headers && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) {
      for (const item of Array.isArray(v) ? v : [v]) out.push(k, String(item));
    }
  } else {
    throw new TypeError('startResponse headers must be an array of pairs or an object');
  }
  return out;
}

// The last status line parsed: an app sends the same few.
let lastStatus: string | undefined;
let lastParsed: { status: number; reason?: string } = { status: 200 };

function parseStatus(status: string | number): { status: number; reason?: string } {
  if (typeof status === 'number') return { status };
  if (status === lastStatus) return lastParsed;
  const m = /^(\d{3})(?: (.*))?$/.exec(String(status));
  if (!m) throw new TypeError(`Invalid WSGI status: ${JSON.stringify(status)} (expected like "200 OK")`);
  lastParsed = { status: Number(m[1]), reason: m[2] };
  lastStatus = status;
  return lastParsed;
}

function isAsyncIterable(x: unknown): x is AsyncIterable<BodyChunk> {
  return x != null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

async function* chunksOf(body: Iterable<BodyChunk> | AsyncIterable<BodyChunk>, prefix: Buffer[]): AsyncGenerator<Buffer> {
  for (const b of prefix) yield b;
  for await (const chunk of body as AsyncIterable<BodyChunk>) {
    const b = toBuffer(chunk);
    if (b.length) yield b;
  }
}

interface Started { status: number; reason?: string; headers: string[] }

function response(started: Started | undefined, body: Buffer | AsyncIterable<Buffer>): AppResponse {
  if (!started) throw new Error('The WSGI app returned without calling startResponse');
  return { status: started.status, reason: started.reason, headers: started.headers, body };
}

/**
 * Runs a WSGI-style app for one request. Synchronous when the app is: an
 * app that returns a string, a Buffer or an array gets its AppResponse
 * back at once, without a promise (the poll engine then answers within the
 * same call from native code). A promise, a generator or an async iterable
 * gives a Promise.
 */
export function runWsgi(app: WsgiApp, req: RequestInfo): AppResponse | Promise<AppResponse> {
  let started: Started | undefined;
  let written: Buffer[] | undefined;
  const startResponse = (status: string | number, headers: HeaderList) => {
    const s = parseStatus(status);
    started = { status: s.status, reason: s.reason, headers: flattenHeaders(headers) };
    return (chunk: string | Uint8Array) => void (written ??= []).push(toBuffer(chunk));
  };
  const finish = (result: WsgiBody): AppResponse | Promise<AppResponse> => {
    if (result == null) return response(started, Buffer.concat(written ?? []));
    if (typeof result === 'string' || result instanceof Uint8Array) {
      return response(started, written ? Buffer.concat([...written, toBuffer(result)]) : toBuffer(result));
    }
    if (Array.isArray(result)) return response(started, Buffer.concat([...(written ?? []), ...result.map(toBuffer)]));
    if (isAsyncIterable(result) || typeof (result as Iterable<BodyChunk>)[Symbol.iterator] === 'function') {
      // A generator may call startResponse lazily (PEP 3333): pull before reading the status.
      return settle(chunksOf(result, written ?? [])[Symbol.asyncIterator]()).then((body) => response(started, body));
    }
    throw new TypeError('A WSGI app must return a string, Buffer, or an iterable of them');
  };
  const result = app(buildEnviron(req), startResponse);
  return isThenable(result) ? Promise.resolve(result).then(finish) : finish(result as WsgiBody);
}
