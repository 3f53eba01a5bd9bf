// The apps `npm run bench` serves on every engine (bench/run.ts), each
// selected with bench/apps.ts:NAME. WSGI-style, so every engine (native
// reader and writer, node:http) serves the very same function.
import type { Environ, StartResponse } from '../src/apps/types.js';

const HELLO = 'Hello, World!';

/** Plain text: the fixed body the C floor (bench/floor/fork_floor.c) also sends. */
export function hello(_environ: Environ, startResponse: StartResponse): string {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return HELLO;
}

/** A small JSON document, serialized per request (TechEmpower's "JSON serialization" test). */
export function json(_environ: Environ, startResponse: StartResponse): string {
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return JSON.stringify({ message: HELLO, items: [1, 2, 3], ok: true });
}

/** Echoes the request body (bench/run.ts POSTs 64 KiB): the body is read whole, then written back. */
export function echo(environ: Environ, startResponse: StartResponse): Buffer {
  const body = environ['wsgi.input'];
  startResponse('200 OK', [['Content-Type', environ.CONTENT_TYPE || 'application/octet-stream']]);
  return body;
}
