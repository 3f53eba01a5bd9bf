/**
 * A WHATWG Request that costs only what the app reads. Most routing needs
 * `method` and `url`; constructing a real `Request` (undici) costs several
 * µs a request, so it is made only when the app touches anything else
 * (`headers`, the body, `signal`, `clone()`...). The object's prototype
 * chain contains `Request.prototype`, so `instanceof Request` holds and
 * `Object.prototype.toString` says `[object Request]`; every member of
 * `Request.prototype` is forwarded to the real Request once it exists,
 * so what the app observes is a standard Request (its headers are the real,
 * immutable ones). The same idea as @hono/node-server's request; written
 * here from the Fetch standard.
 */
import { forwardMembers } from './forward.js';
import { header } from './responses.js';
import type { RequestInfo } from './types.js';
import { singleContentLength } from './wsgi.js';

const kInfo = Symbol('forkserve.requestInfo');
const kUrl = Symbol('forkserve.url');
const kReal = Symbol('forkserve.request');

interface Lazy {
  [kInfo]: RequestInfo;
  [kUrl]?: string;
  [kReal]?: Request;
}

/** The absolute URL of a request-target (RFC 9112 §3.2): origin-form with Host, absolute-form as is, else the server's. */
export function requestUrl(req: RequestInfo): string {
  const target = req.target;
  if (target.charCodeAt(0) === 47 /* / */) {
    const host = header(req.headers, 'host');
    return `${req.scheme ?? 'http'}://${host || `${req.serverName}:${req.serverPort}`}${target}`;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target;
  return `${req.scheme ?? 'http'}://${req.serverName}:${req.serverPort}/`; // asterisk- and authority-form
}

/** Builds the real WHATWG Request of a request. */
export function buildRequest(req: RequestInfo, url = requestUrl(req)): Request {
  const headers = new Headers();
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    // One Content-Length, whatever list of equal values or repeated fields the parser accepted (RFC 9112 §6.3).
    if (h[i].length === 14 && h[i].toLowerCase() === 'content-length') headers.set(h[i], singleContentLength(h[i + 1]));
    else headers.append(h[i], h[i + 1]);
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.body.length > 0;
  return new Request(url, { method: req.method, headers, body: hasBody ? (req.body as unknown as NonNullable<RequestInit['body']>) : undefined });
}

function real(self: Lazy): Request {
  return (self[kReal] ??= buildRequest(self[kInfo], (self[kUrl] ??= requestUrl(self[kInfo]))));
}

const proto = forwardMembers<Lazy>(Object.create(Request.prototype), Request.prototype, real, {
  method: (self) => self[kInfo].method,
  url: (self) => (self[kUrl] ??= requestUrl(self[kInfo])),
});

/** A Request for `req` that builds the real one only when the app reads past `method` and `url`. */
export function lazyRequest(req: RequestInfo): Request {
  const self = Object.create(proto) as Lazy;
  self[kInfo] = req;
  return self as unknown as Request;
}
