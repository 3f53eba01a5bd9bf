/** Pieces every engine shares when it turns app results into responses. */
import type { AppResponse } from './types.js';

/** What a client gets when the app throws before anything was sent. */
export const INTERNAL_ERROR: AppResponse = {
  status: 500,
  headers: ['Content-Type', 'text/plain; charset=utf-8'],
  body: Buffer.from('500 Internal Server Error\n'),
};

/**
 * The answer to a request whose handler ran past --timeout, when nothing
 * was sent yet: the poll engine and Node listeners send it; the fork
 * engine's watchdog writes the same bytes (native/engine/watchdog.cc).
 */
export const TIMED_OUT: AppResponse = {
  status: 503,
  headers: ['Content-Type', 'text/plain', 'Connection', 'close', 'Retry-After', '1'],
  body: Buffer.from('request timed out (503)\n'),
};

/** Returns the first value of a field in a flat [name, value, ...] list (name in lower case), or undefined. */
export function header(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === name) return headers[i + 1];
  return undefined;
}
