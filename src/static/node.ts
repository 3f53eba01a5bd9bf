/**
 * Static files in front of a Node request listener: node:http parses those
 * requests (docs/interfaces.md), so the file is streamed with fs
 * (FileBody.stream) rather than sendfile(2).
 */
import type { RequestListener } from 'node:http';
import { writeResponse } from '../engines/node-response.js';
import type { RequestInfo } from '../apps/types.js';
import type { StaticApp } from './serve-static.js';

const EMPTY = Buffer.alloc(0);

/** A listener that answers from `files` what they serve, and passes the rest to `next`. */
export function staticListener(files: StaticApp, next: RequestListener): RequestListener {
  return (req, res) => {
    const info: RequestInfo = {
      method: req.method ?? 'GET', target: req.url ?? '/', minorVersion: req.httpVersionMinor, headers: req.rawHeaders,
      body: EMPTY, remoteAddress: req.socket.remoteAddress ?? '', remotePort: req.socket.remotePort ?? 0,
      serverName: req.socket.localAddress ?? '', serverPort: req.socket.localPort ?? 0,
    };
    const out = files.respond(info);
    if (!out) return next(req, res);
    // A file cut short (truncated meanwhile) has already destroyed the response.
    writeResponse(res, info.method, out).catch(() => res.destroy());
  };
}
