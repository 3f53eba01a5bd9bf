/**
 * The two app interfaces forkserve serves, both auto-detected:
 *  - WSGI-style (PEP 3333's shape in TypeScript): `app(environ, startResponse)`
 *    returning the body as a string, a Buffer, or an iterable (sync or async)
 *    of them; may be async.
 *  - Fetch-style (Hono, Bun, Deno): an object with `fetch(request: Request) =>
 *    Response | Promise<Response>`.
 */
import type { FileBody } from './file-body.js';

/** The CGI/WSGI variables of one request (PEP 3333, RFC 3875 §4.1). */
export interface Environ {
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  /** The path, percent-decoded, as a Latin-1 string (PEP 3333). */
  PATH_INFO: string;
  QUERY_STRING: string;
  /** The request-target exactly as received (gunicorn's RAW_URI). */
  RAW_URI: string;
  CONTENT_TYPE: string;
  CONTENT_LENGTH: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  SERVER_SOFTWARE: string;
  REMOTE_ADDR: string;
  REMOTE_PORT: string;
  'wsgi.version': [1, 0];
  /** 'https' when a trusted proxy says the client used it (X-Forwarded-Proto, Forwarded proto=). */
  'wsgi.url_scheme': 'http' | 'https';
  /** The whole request body (chunked bodies already decoded). */
  'wsgi.input': Buffer;
  'wsgi.errors': NodeJS.WritableStream;
  'wsgi.multithread': false;
  'wsgi.multiprocess': boolean;
  'wsgi.run_once': false;
  /** HTTP_* request header fields (HTTP_HOST, HTTP_USER_AGENT...), repeated fields joined with ", ". */
  [key: `HTTP_${string}`]: string;
  [key: string]: unknown;
}

/** Response header fields as pairs, or an object. */
export type HeaderList = Array<[string, string]> | Record<string, string | string[]>;

/** `startResponse('200 OK', [['Content-Type', 'text/plain']])`; the status may also be a number. Returns a legacy write(). */
export type StartResponse = (status: string | number, headers: HeaderList) => (chunk: string | Uint8Array) => void;

export type BodyChunk = string | Uint8Array;
export type WsgiBody = BodyChunk | Iterable<BodyChunk> | AsyncIterable<BodyChunk> | null | undefined;

export type WsgiApp = (environ: Environ, startResponse: StartResponse) => WsgiBody | Promise<WsgiBody>;

export interface FetchApp {
  fetch(request: Request): Response | Promise<Response>;
}

export type App = WsgiApp | FetchApp;

/** What a served request produced, before framing: the engine adds Date, Server, Content-Length or chunked. */
export interface AppResponse {
  status: number;
  reason?: string;
  /** Flat [name, value, name, value...] */
  headers: string[];
  /** A whole body, a stream of chunks of unknown total length, or a range of an open file (sent with sendfile(2)). */
  body: Buffer | AsyncIterable<Buffer> | FileBody;
}

/** One request as the engine read it. */
export interface RequestInfo {
  method: string;
  target: string;
  minorVersion: number;
  headers: string[];
  body: Buffer;
  remoteAddress: string;
  remotePort: number;
  serverName: string;
  serverPort: number;
  /** The scheme the client used, when a trusted proxy said so (apps/forwarded.ts); 'http' when absent. */
  scheme?: 'http' | 'https';
}

/**
 * Turns a request into a response; engines call this. A synchronous app's
 * response comes back as a value, an asynchronous one's as a Promise; a
 * synchronous throw is the app's error, like a rejection.
 */
export type Handler = (req: RequestInfo) => AppResponse | Promise<AppResponse>;
