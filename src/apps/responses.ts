/** Pieces every engine shares when it turns app results into responses. */
import type { AppResponse } from './types.js';

/** What a client gets when the app throws before anything was sent. */
export const INTERNAL_ERROR: AppResponse = {
  status: 500,
  headers: ['Content-Type', 'text/plain; charset=utf-8'],
  body: Buffer.from('500 Internal Server Error\n'),
};

/** Returns the first value of a field in a flat [name, value, ...] list (name in lower case), or undefined. */
export function header(headers: string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i].toLowerCase() === name) return headers[i + 1];
  return undefined;
}
