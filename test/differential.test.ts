// Differential test: forkserve's C parser (parseRequest from the addon)
// against llhttp, Node's own parser, reached through node:http on loopback.
//
// Every request of test/corpus/generate.ts is sent as raw bytes over a fresh
// TCP connection to a node:http server on 127.0.0.1 that records what llhttp
// parsed (method, url, version, raw headers, body) and answers 200 with it as
// JSON; llhttp's rejections come back through 'clientError' as a 4xx carrying
// the llhttp error code. The same bytes go to parseRequest. The verdicts
// (accept / reject with status class / incomplete) and, when both accept,
// the parsed method, target, version, headers and body must agree.
//
// Intentional differences are not skipped: each is listed in ALLOWED below by
// corpus label with the exact difference kind it must show, and each kind is
// explained with its RFC reason in docs/http-parser.md ("Differences from
// llhttp"). A listed entry that stops differing fails too, so the list stays
// true. Set DIFF_REPORT=path to write every observed difference as JSON.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCorpus, type CorpusEntry, type ParserLimits } from './corpus/generate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type Parsed =
  | {
      ok: true;
      method: string;
      target: string;
      minorVersion: number;
      headers: [string, string][];
      body: Buffer;
      consumed: number;
    }
  | { ok: false; status: number; incomplete?: boolean };

interface HttpBinding {
  parseRequest(buf: Buffer, limits?: ParserLimits): Parsed;
}

const require = createRequire(import.meta.url);
const binding = require(path.join(root, 'build', 'Release', 'forkserve.node')) as HttpBinding;

// ---- what llhttp said ------------------------------------------------------

type Verdict =
  | { kind: 'accept'; method: string; target: string; version: string; headers: string[]; body: Buffer }
  | { kind: 'reject'; status: number; code: string }
  | { kind: 'incomplete'; code: string };

interface Server {
  port: number;
  close(): Promise<void>;
}

/** Returns a record of what llhttp parsed, as base64 JSON for a header
 * (so that HEAD and CONNECT responses carry it too). */
function record(req: http.IncomingMessage, body: Buffer): string {
  const rec = JSON.stringify({
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    rawHeaders: req.rawHeaders,
    body: body.toString('base64'),
  });
  return Buffer.from(rec).toString('base64');
}

type RecordingSocket = net.Socket & { firstRequest?: http.IncomingMessage };

/** Starts a node:http server that answers each connection's first request
 * with a record of it, and llhttp errors with X-Err: <code>. */
async function startNodeServer(maxHeaderSize: number): Promise<Server> {
  const server = http.createServer(
    { insecureHTTPParser: false, requireHostHeader: true, maxHeaderSize, joinDuplicateHeaders: false },
    (req, res) => {
      const sock = req.socket as RecordingSocket;
      if (sock.firstRequest) return; // only the first request of a connection is compared
      sock.firstRequest = req;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'X-Record': record(req, Buffer.concat(chunks)), 'Content-Length': 0, Connection: 'close' });
        res.end();
      });
    },
  );
  // CONNECT arrives here, not as 'request'; what follows its head is tunnel data.
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
    socket.end(`HTTP/1.1 200 OK\r\nX-Record: ${record(req, Buffer.alloc(0))}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: RecordingSocket) => {
    // An error after a complete first request belongs to a later pipelined
    // request: the first one's record is the answer.
    if (socket.firstRequest?.complete) return;
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    if (socket.writable) {
      socket.end(`HTTP/1.1 ${status} Bad Request\r\nX-Err: ${err.code ?? 'unknown'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } else {
      socket.destroy();
    }
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Returns the raw response bytes to `bytes` sent on a fresh connection and half-closed. */
function exchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(finish, 3000);
    sock.on('connect', () => {
      sock.write(bytes);
      sock.end();
    });
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

/** Returns llhttp's verdict read from the server's (first final) response. */
function readVerdict(raw: Buffer): Verdict {
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { kind: 'incomplete', code: raw.length ? 'garbled response' : 'no response' };
    const headText = rest.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(headText)?.[1] ?? 0);
    const fields = new Map<string, string>();
    for (const l of headText.split('\r\n').slice(1)) {
      const i = l.indexOf(':');
      fields.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
    }
    const after = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = after; // 100 Continue: the final response follows
      continue;
    }
    const code = fields.get('x-err');
    if (code === 'HPE_INVALID_EOF_STATE') return { kind: 'incomplete', code };
    if (status !== 200) return { kind: 'reject', status, code: code ?? `node ${status}` };
    const record = fields.get('x-record');
    if (!record) return { kind: 'incomplete', code: `no record in: ${headText}` };
    const rec = JSON.parse(Buffer.from(record, 'base64').toString('utf8'));
    return {
      kind: 'accept',
      method: rec.method,
      target: rec.url,
      version: rec.httpVersion,
      headers: rec.rawHeaders,
      body: Buffer.from(rec.body, 'base64'),
    };
  }
}

// ---- comparing ---------------------------------------------------------------

/** Returns the class of a status: "4xx", "5xx". */
const statusClass = (s: number) => `${Math.floor(s / 100)}xx`;

/**
 * Returns null when both parsers agree, else a difference kind: a short
 * string such as "ours-accept/node-reject:HPE_INVALID_METHOD",
 * "ours-reject:501/node-reject:4xx" or "field:headers".
 */
function compare(ours: Parsed, node: Verdict): string | null {
  if (!ours.ok && ours.incomplete) {
    if (node.kind === 'incomplete') return null;
    return node.kind === 'accept' ? 'ours-incomplete/node-accept' : `ours-incomplete/node-reject:${node.code}`;
  }
  if (!ours.ok) {
    if (node.kind === 'reject') {
      return statusClass(ours.status) === statusClass(node.status) ? null : `ours-reject:${ours.status}/node-reject:${statusClass(node.status)}`;
    }
    return node.kind === 'accept' ? `ours-reject:${ours.status}/node-accept` : `ours-reject:${ours.status}/node-incomplete`;
  }
  if (node.kind === 'reject') return `ours-accept/node-reject:${node.code}`;
  if (node.kind === 'incomplete') return 'ours-accept/node-incomplete';
  if (ours.method !== node.method) return 'field:method';
  if (ours.target !== node.target) return 'field:target';
  if (`1.${ours.minorVersion}` !== node.version) return 'field:version';
  const flat = ours.headers.flat();
  if (flat.length !== node.headers.length || flat.some((v, i) => v !== node.headers[i])) return 'field:headers';
  if (!ours.body.equals(node.body)) return 'field:body';
  return null;
}

// ---- intentional differences ---------------------------------------------------
// Kind name (documented in docs/http-parser.md) -> the labels that show it, and
// the exact difference each label must produce.

const NODE_ACCEPTS = 'ours-reject:400/node-accept';
const ALLOWED: Record<string, Record<string, string>> = {
  // RFC 9110 §9.1: a method is any token; llhttp knows a fixed list.
  'any-token-method': Object.fromEntries(
    ['method/BREW', 'method/get', 'method/Get', 'method/FOO', 'method/X-CUSTOM', 'method/A', "method/!#$%&'*+-.^_`|~"].map(
      (l) => [l, 'ours-accept/node-reject:HPE_INVALID_METHOD'],
    ),
  ),
  // RFC 9112 §3: exactly one SP between the parts of the request line.
  'single-sp': { 'method/double-space': NODE_ACCEPTS, 'target/double-space-after': NODE_ACCEPTS },
  // RFC 9112 §3.2.4: asterisk-form is only for OPTIONS, and is exactly "*".
  'asterisk-options-only': {
    'target/asterisk-get': NODE_ACCEPTS,
    'target/asterisk-post': NODE_ACCEPTS,
    'target/asterisk-x-options': NODE_ACCEPTS,
  },
  // RFC 9112 §3.2.2 / RFC 3986 §3.1: a scheme may hold "+", "-" and ".".
  'absolute-form-scheme': { 'target/absolute-scheme-plus': 'ours-accept/node-reject:HPE_INVALID_URL' },
  // RFC 9112 §3.2.3: CONNECT takes authority-form (host:port) only.
  'connect-authority-only': Object.fromEntries(
    ['no-port', 'empty-port', 'empty-host', 'origin', 'userinfo', 'absolute', 'port-letters', 'asterisk'].map((n) => [
      `target/connect-${n}`,
      NODE_ACCEPTS,
    ]),
  ),
  // RFC 9112 §3: the request line ends with an HTTP-version; no HTTP/0.9.
  'no-http09': { 'version/missing': NODE_ACCEPTS, 'mutate/2-pos13-0x41': NODE_ACCEPTS },
  // RFC 9112 §2.2: at most 8 leading CRLFs, and no bare CR or LF even there.
  'leading-empty-lines': {
    'eol/leading-9-crlf': NODE_ACCEPTS,
    'eol/leading-bare-lf': NODE_ACCEPTS,
    'eol/leading-bare-cr': NODE_ACCEPTS,
  },
  // RFC 9112 §3.2: more than one Host field line is 400 (MUST).
  'single-host': { 'host/two-1.1': NODE_ACCEPTS, 'host/two-same-1.1': NODE_ACCEPTS, 'host/two-1.0': NODE_ACCEPTS },
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
  'te-in-http10': { 'te/http10': NODE_ACCEPTS },
  // RFC 9110 §5.6.1 (empty list elements ignored) and RFC 9112 §6.3 (the
  // final coding must be chunked, so an empty TE is 400).
  'te-list-syntax': {
    'te/empty-elements': 'ours-accept/node-reject:HPE_INVALID_TRANSFER_ENCODING',
    'te/empty': NODE_ACCEPTS,
  },
  // RFC 9112 §6.1: codings other than chunked are not implemented: 501.
  'te-coding-501': Object.fromEntries(
    ['gzip', 'deflate', 'compress', 'x-gzip', 'identity', 'unknown', 'gzip-params', 'gzip-field'].map((n) => [
      `te/${n}-chunked${n === 'gzip-field' ? '-field' : ''}`,
      'ours-reject:501/node-accept',
    ]),
  ),
  // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ).
  'chunk-ext-grammar': {
    'chunked/bad-empty-ext-value': NODE_ACCEPTS,
    'chunked/bad-ext-no-name': NODE_ACCEPTS,
    'chunked/ext-bws': 'ours-accept/node-reject:HPE_INVALID_CHUNK_SIZE',
  },
  // RFC 9112 §7.1.1 lets a server limit extensions: our size line is 4096 bytes.
  'chunk-line-limit': { 'chunked/ext-long-5000': NODE_ACCEPTS },
  // RFC 9110 §6.2 / RFC 9112 §2.3: HTTP/1.x (x > 1) is served as HTTP/1.1.
  'http-1x-minor': {
    'version/HTTP/1.2': 'ours-accept/node-reject:HPE_INVALID_VERSION',
    'version/HTTP/1.9': 'ours-accept/node-reject:HPE_INVALID_VERSION',
  },
  // RFC 9110 §15.6.6: a major version other than 1 is 505.
  'version-505': {
    'version/HTTP/0.9': 'ours-reject:505/node-accept',
    'version/HTTP/2.0': 'ours-reject:505/node-accept',
    'version/HTTP/3.0': 'ours-reject:505/node-reject:4xx',
    'version/HTTP/9.9': 'ours-reject:505/node-reject:4xx',
    'version/HTTP/0.0': 'ours-reject:505/node-reject:4xx',
  },
  // RFC 9110 §8.6: identical Content-Length values may be accepted as one.
  'cl-equal-values': {
    'cl/list-equal': 'ours-accept/node-reject:HPE_INVALID_CONTENT_LENGTH',
    'cl/two-fields-equal': 'ours-accept/node-reject:HPE_UNEXPECTED_CONTENT_LENGTH',
  },
  // RFC 9110 §8.6, RFC 9112 §7.1: lengths are capped at 2^63-1 (overflow: 400).
  'length-cap': {
    'cl/overflow-2^63': 'ours-reject:400/node-incomplete',
    'chunked/bad-overflow-2^63': 'ours-reject:400/node-incomplete',
    'chunked/bad-overflow-2^64': 'ours-reject:400/node-incomplete',
  },
  // RFC 9110 §10.1.1: unknown expectations are ignored (417 is optional).
  'expect-ignored': { 'expect/other': 'ours-accept/node-reject:node 417' },
  // Our limits (request line, field section, field count, trailers) are set
  // per entry; the node server runs with a 1 MiB maxHeaderSize.
  limits: {
    'limits/line-over-64': 'ours-reject:414/node-accept',
    'limits/fields-over-10': 'ours-reject:431/node-accept',
    'limits/fields-count-over-3': 'ours-reject:431/node-accept',
    'limits/fields-101': 'ours-reject:431/node-accept',
    'limits/trailer-over': 'ours-reject:431/node-accept',
  },
};

/** Returns the label -> expected difference map flattened from ALLOWED. */
function allowedByLabel(): Map<string, { kind: string; diff: string }> {
  const m = new Map<string, { kind: string; diff: string }>();
  for (const [kind, entries] of Object.entries(ALLOWED)) {
    for (const [label, diff] of Object.entries(entries)) {
      if (m.has(label)) throw new Error(`label ${label} is allow-listed twice`);
      m.set(label, { kind, diff });
    }
  }
  return m;
}

// ---- the test --------------------------------------------------------------------

const corpus = generateCorpus();
const servers = new Map<number, Server>();
const DEFAULT_NODE_MAX_HEADER = 1 << 20;

interface Outcome {
  entry: CorpusEntry;
  ours: Parsed;
  node: Verdict;
  diff: string | null;
}
const outcomes: Outcome[] = [];

describe('differential: forkserve parser vs llhttp (node:http)', () => {
  beforeAll(async () => {
    const sizes = new Set(corpus.map((e) => e.nodeMaxHeaderSize ?? DEFAULT_NODE_MAX_HEADER));
    for (const s of sizes) servers.set(s, await startNodeServer(s));
    // Several connections at a time, bounded: each exchange ends by itself.
    const queue = [...corpus];
    const worker = async () => {
      for (let e = queue.shift(); e; e = queue.shift()) {
        const server = servers.get(e.nodeMaxHeaderSize ?? DEFAULT_NODE_MAX_HEADER)!;
        const node = readVerdict(await exchange(server.port, e.bytes));
        const ours = binding.parseRequest(e.bytes, e.limits);
        outcomes.push({ entry: e, ours, node, diff: compare(ours, node) });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    if (process.env.DIFF_REPORT) {
      const report = outcomes
        .filter((o) => o.diff)
        .map((o) => ({
          label: o.entry.label,
          diff: o.diff,
          ours: o.ours.ok ? { ...o.ours, body: o.ours.body.toString('latin1') } : o.ours,
          node: o.node.kind === 'accept' ? { ...o.node, body: o.node.body.toString('latin1') } : o.node,
        }));
      writeFileSync(process.env.DIFF_REPORT, JSON.stringify(report, null, 1));
    }
  }, 120_000);

  afterAll(async () => {
    for (const s of servers.values()) await s.close();
  });

  it('has a corpus of at least 500 requests with unique labels', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    expect(new Set(corpus.map((e) => e.label)).size).toBe(corpus.length);
    expect(outcomes.length).toBe(corpus.length);
  });

  it('agrees with llhttp except for the documented, allow-listed differences', () => {
    const allowed = allowedByLabel();
    const problems: string[] = [];
    for (const o of outcomes) {
      const a = allowed.get(o.entry.label);
      if (o.diff && !a) problems.push(`${o.entry.label}: unexpected difference ${o.diff}`);
      else if (o.diff && a && a.diff !== o.diff) problems.push(`${o.entry.label}: difference ${o.diff}, allow-listed as ${a.diff} (${a.kind})`);
      else if (!o.diff && a) problems.push(`${o.entry.label}: allow-listed as ${a.kind} but both parsers agree now`);
    }
    for (const label of allowed.keys()) {
      if (!corpus.some((e) => e.label === label)) problems.push(`${label}: allow-listed but not in the corpus`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });

  it('exercises accepts and rejects on both sides', () => {
    const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
    console.log(
      `differential: ${corpus.length} requests; agree: ${count((o) => !o.diff && o.ours.ok)} accepted, ` +
        `${count((o) => !o.diff && !o.ours.ok && !o.ours.incomplete)} rejected, ` +
        `${count((o) => !o.diff && !o.ours.ok && !!o.ours.incomplete)} incomplete; ` +
        `${count((o) => !!o.diff)} allow-listed differences`,
    );
    const agreeAccept = outcomes.filter((o) => !o.diff && o.ours.ok).length;
    const agreeReject = outcomes.filter((o) => !o.diff && !o.ours.ok && !o.ours.incomplete).length;
    expect(agreeAccept).toBeGreaterThanOrEqual(100);
    expect(agreeReject).toBeGreaterThanOrEqual(150);
  });
});
