/**
 * From a request-target to the file path it names, with the checks that
 * keep a static root closed (docs/static.md). Strings here are Latin-1, as
 * the native parser hands targets out: one char per byte.
 */

/** The path a target names: its bytes percent-decoded, and the raw path and query as received. */
export interface TargetPath {
  /** Percent-decoded path bytes, starting with '/'. */
  decoded: Buffer;
  /** The path as received (before decoding), for redirects and prefix matching. */
  raw: string;
  /** The query, without '?', or ''. */
  query: string;
}

/** Why a target cannot name a file: 400 for what no client should send, 404 for what is hidden. */
export interface TargetRefusal {
  status: 400 | 404;
  reason: string;
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Splits the path and query off an origin-form or absolute-form target
 * (RFC 9112 §3.2.1, §3.2.2; an empty absolute-form path is '/'). Returns
 * undefined for asterisk-form, authority-form or anything else.
 */
export function splitTarget(target: string): { raw: string; query: string } | undefined {
  let rest = target;
  if (rest[0] !== '/') {
    const m = ABSOLUTE.exec(rest);
    if (!m) return undefined;
    rest = rest.slice(m[0].length);
    if (rest === '' || rest[0] === '?') rest = '/' + rest;
    if (rest[0] !== '/') return undefined;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { raw: rest, query: '' } : { raw: rest.slice(0, q), query: rest.slice(q + 1) };
}

/**
 * Decodes the path bytes of `raw` (percent-decoding once: `%252e` stays
 * the three characters `%2e`) and refuses, with 400: a malformed `%`, an
 * encoded '/' (`%2f`: a separator the client did not send), a NUL byte, a
 * backslash (raw or `%5c`), and a `.` or `..` segment (raw or encoded:
 * dot-segments are for the client to remove, RFC 3986 §5.2.4). A segment
 * starting with '.' (a dotfile) is refused with 404 unless `dotfiles`.
 */
export function decodePath(raw: string, dotfiles: boolean): Buffer | TargetRefusal {
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  let segStart = 0;
  const endSegment = (): TargetRefusal | undefined => {
    const len = n - segStart;
    if (len === 0 || out[segStart] !== 0x2e) return undefined;
    if (len === 1 || (len === 2 && out[segStart + 1] === 0x2e)) return { status: 400, reason: 'a dot-segment in the path' };
    if (!dotfiles) return { status: 404, reason: 'a dotfile' };
    return undefined;
  };
  for (let i = 0; i < raw.length; i++) {
    let c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = hex(raw.charCodeAt(i + 1));
      const lo = hex(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { status: 400, reason: 'a malformed percent-encoding' };
      c = hi * 16 + lo;
      i += 2;
      if (c === 0x2f) return { status: 400, reason: "an encoded '/' (%2F)" };
    } else if (c === 0x2f) {
      const refused = endSegment();
      if (refused) return refused;
      out[n++] = c;
      segStart = n;
      continue;
    }
    if (c === 0) return { status: 400, reason: 'a NUL byte' };
    if (c === 0x5c) return { status: 400, reason: 'a backslash' };
    if (c > 0xff) return { status: 400, reason: 'a character outside Latin-1' };
    out[n++] = c;
  }
  const refused = endSegment();
  if (refused) return refused;
  return out.subarray(0, n);
}
