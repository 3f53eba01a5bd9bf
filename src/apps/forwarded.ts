/**
 * Behind a proxy: the client's address and scheme from the fields a trusted
 * proxy adds. Only a peer in --forwarded-allow-ips (default
 * "127.0.0.1,::1", gunicorn's) is believed; from anyone else the fields are
 * ignored, so a client cannot claim another address. RFC 7239 `Forwarded`
 * is read when present (the forwarded-parse package), else
 * `X-Forwarded-For` (through the proxy-addr package, which walks the chain
 * from the nearest hop back to the first address that is not trusted) and
 * `X-Forwarded-Proto`. The result is REMOTE_ADDR (and `wsgi.url_scheme`)
 * for WSGI apps, and the scheme of a Fetch app's `Request.url`.
 */
import proxyaddr from 'proxy-addr';
import parseForwarded from 'forwarded-parse';
import type { Handler, RequestInfo } from './types.js';

/** Whether an address is a trusted proxy. */
export type Trust = (address: string) => boolean;

/**
 * Compiles an allow list: comma-separated addresses, CIDR ranges, or
 * proxy-addr's names (loopback, linklocal, uniquelocal); '*' trusts every
 * peer. Throws TypeError for an entry that is none of these.
 */
export function compileTrust(list: string): Trust {
  const entries = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.includes('*')) return () => true;
  let fn: (addr: string, i: number) => boolean;
  try {
    fn = proxyaddr.compile(entries);
  } catch (err) {
    throw new TypeError(`--forwarded-allow-ips "${list}": ${(err as Error).message}`);
  }
  return (address) => fn(address.replace(/^::ffff:(?=\d+\.)/, ''), 0);
}

const SCHEMES = new Set(['http', 'https']);

/** The address of an RFC 7239 node ("192.0.2.1", "[2001:db8::1]:80", "_hidden", "unknown"), or undefined. */
function nodeAddress(node: string | undefined): string | undefined {
  if (!node) return undefined;
  const v6 = /^\[([^\]]+)\]/.exec(node);
  if (v6) return v6[1];
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d+)?$/.exec(node);
  return v4 ? v4[1] : undefined;
}

/**
 * Sets `req.remoteAddress` (and `req.scheme`) from the forwarding fields
 * when the peer is trusted; leaves `req` alone otherwise, and when the
 * fields are malformed.
 */
export function applyForwarded(req: RequestInfo, trust: Trust): void {
  let forwarded: string | undefined;
  let xff: string | undefined;
  let xfp: string | undefined;
  const h = req.headers;
  for (let i = 0; i < h.length; i += 2) {
    const n = h[i];
    // Cheap first: most requests have none of these fields.
    if (n.length < 9 || ((n.charCodeAt(0) | 32) !== 0x78 /* x */ && (n.charCodeAt(0) | 32) !== 0x66 /* f */)) continue;
    const lower = n.toLowerCase();
    if (lower === 'forwarded') forwarded = forwarded === undefined ? h[i + 1] : `${forwarded}, ${h[i + 1]}`;
    else if (lower === 'x-forwarded-for') xff = xff === undefined ? h[i + 1] : `${xff}, ${h[i + 1]}`;
    else if (lower === 'x-forwarded-proto') xfp ??= h[i + 1];
  }
  if (forwarded === undefined && xff === undefined && xfp === undefined) return;
  if (!trust(req.remoteAddress)) return;
  if (forwarded !== undefined) {
    let elements: ReturnType<typeof parseForwarded>;
    try {
      elements = parseForwarded(forwarded);
    } catch {
      return; // malformed: believe nothing of it
    }
    // From the nearest hop back: the first element whose sender is not a
    // trusted proxy describes the hop where the client connected.
    for (let i = elements.length - 1; i >= 0; i--) {
      const e = elements[i];
      const addr = nodeAddress(e.for);
      const proto = e.proto?.toLowerCase();
      if (proto && SCHEMES.has(proto)) req.scheme = proto as 'http' | 'https';
      if (!addr) return; // obfuscated or unknown: the chain stops here
      req.remoteAddress = addr;
      if (!trust(addr)) return;
    }
    return;
  }
  if (xff !== undefined) {
    const addr = proxyaddr({ headers: { 'x-forwarded-for': xff }, connection: { remoteAddress: req.remoteAddress } } as never, trust);
    if (addr) req.remoteAddress = addr;
  }
  const proto = xfp?.split(',')[0].trim().toLowerCase();
  if (proto && SCHEMES.has(proto)) req.scheme = proto as 'http' | 'https';
}

/** A handler that applies the forwarding fields of trusted peers before `next`. */
export function withForwarded(next: Handler, trust: Trust): Handler {
  return (req) => {
    applyForwarded(req, trust);
    return next(req);
  };
}
