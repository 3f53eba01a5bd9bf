/** The WSGI-style interface: environ in, startResponse + body out (PEP 3333 in TypeScript). */
import { settle, toBuffer } from './body.js';
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
      const slash = rest.indexOf('/', scheme + 3);
      rest = slash < 0 ? '/' : rest.slice(slash);
    }
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}

/** Builds the environ of one request. */
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
    'wsgi.version': [1, 0],
    'wsgi.url_scheme': 'http',
    'wsgi.input': req.body,
    'wsgi.errors': process.stderr,
    'wsgi.multithread': false,
    'wsgi.multiprocess': multiprocess,
    'wsgi.run_once': false,
  };
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i].toUpperCase().replace(/-/g, '_');
    const value = h[i + 1];
    if (name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH') {
      env[name] = value;
      continue;
    }
    const key = `HTTP_${name}`;
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

function parseStatus(status: string | number): { status: number; reason?: string } {
  if (typeof status === 'number') return { status };
  const m = /^(\d{3})(?: (.*))?$/.exec(String(status));
  if (!m) throw new TypeError(`Invalid WSGI status: ${JSON.stringify(status)} (expected like "200 OK")`);
  return { status: Number(m[1]), reason: m[2] };
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

/** Runs a WSGI-style app for one request. */
export async function runWsgi(app: WsgiApp, req: RequestInfo): Promise<AppResponse> {
  let started: { status: number; reason?: string; headers: string[] } | undefined;
  const written: Buffer[] = [];
  const startResponse = (status: string | number, headers: HeaderList) => {
    started = { ...parseStatus(status), headers: flattenHeaders(headers) };
    return (chunk: string | Uint8Array) => void written.push(toBuffer(chunk));
  };
  const result: WsgiBody = await app(buildEnviron(req), startResponse);
  let body: Buffer | AsyncIterable<Buffer>;
  if (result == null) {
    body = Buffer.concat(written);
  } else if (typeof result === 'string' || result instanceof Uint8Array) {
    body = written.length ? Buffer.concat([...written, toBuffer(result)]) : toBuffer(result);
  } else if (Array.isArray(result)) {
    body = Buffer.concat([...written, ...result.map(toBuffer)]);
  } else if (isAsyncIterable(result) || typeof (result as Iterable<BodyChunk>)[Symbol.iterator] === 'function') {
    // A generator may call startResponse lazily (PEP 3333): pull before reading the status.
    body = await settle(chunksOf(result, written)[Symbol.asyncIterator]());
  } else {
    throw new TypeError('A WSGI app must return a string, Buffer, or an iterable of them');
  }
  if (!started) throw new Error('The WSGI app returned without calling startResponse');
  return { status: started.status, reason: started.reason, headers: started.headers, body };
}
