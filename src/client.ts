/**
 * The forking load client:
 *
 *   forkserve client --max-clients N --max-conns M [--url URL] [--hold S] [--timeout S] [--json]
 *
 * The parent forks N client processes with forkserve's own fork(). Each child
 * opens M TCP connections (socket(2), connect(2), blocking), sends one
 * `GET PATH HTTP/1.1` with `Connection: close` on each, then reads the
 * responses in the order it sent the requests, timing each from just before
 * connect() to its last byte. It keeps its sockets open for `hold` seconds,
 * closes them, writes its results as one JSON document to the parent through
 * a socketpair(2), and ends with _exit(0). Everything a child does is
 * synchronous: it never runs the event loop it inherited from the parent.
 *
 * The parent reads the reports (through node:net, so its own event loop keeps
 * running), reaps every child with waitpid(PID, WNOHANG), and aggregates:
 * responses by status, errors by kind, latency percentiles.
 *
 * Call runClient() from a process started with `node --single-threaded` (the
 * forkserve command does this itself): fork(2) copies only the calling thread.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import {
  AF_INET,
  AF_INET6,
  SOCK_STREAM,
  WNOHANG,
  _exit,
  alarm,
  close,
  connect,
  dispatchSignals,
  fork,
  kill,
  read,
  sendall,
  sigaction,
  socket,
  socketpair,
  waitpid,
} from './posix.js';

export interface ClientOptions {
  /** `http://HOST[:PORT]/PATH`; HOST is a numeric IPv4 or IPv6 address, or `localhost` (read as 127.0.0.1). */
  url: string;
  /** Client processes to fork (N). */
  maxClients: number;
  /** Connections each client process opens (M). */
  maxConns: number;
  /** Seconds each client keeps its sockets open after reading the responses (default 0: close at once). */
  hold?: number;
  /**
   * Per connection: how long connect + response may take, in milliseconds
   * (default 10000). A child times its blocking calls with alarm(2), whose
   * resolution is one second, so a timeout is noticed up to 1 s late.
   */
  timeoutMs?: number;
}

/** Why a connection got no complete response. */
export type ErrorKind =
  /** ECONNREFUSED: nothing listens on the port (or the listen queue overflowed and the kernel answered RST). */
  | 'refused'
  /** ECONNRESET or EPIPE: the server reset the connection. */
  | 'reset'
  /** No complete response (or no end of the response) within timeoutMs. */
  | 'timeout'
  /** The server closed the connection before a complete response (including an empty reply). */
  | 'incomplete'
  /** The client process died or stopped reporting; its connections are counted here. */
  | 'lost'
  /** Any other errno name, e.g. 'EMFILE', 'EADDRNOTAVAIL'. */
  | (string & {});

export interface LatencySummary {
  /** Number of latencies summarised (the complete responses). */
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ClientReport {
  url: string;
  clients: number;
  connsPerClient: number;
  /** clients × connsPerClient. */
  attempted: number;
  /** Complete responses (any status). */
  responses: number;
  /** Complete responses by status code, e.g. `{ '200': 20 }`. */
  byStatus: Record<string, number>;
  /** Connections without a complete response, by {@link ErrorKind}. */
  errors: Record<string, number>;
  /** attempted − responses. */
  errorCount: number;
  /** Latency of complete responses in milliseconds (nearest-rank percentiles); null if there were none. */
  latencyMs: LatencySummary | null;
  /** Wall time of the whole run, forks to last reap, in milliseconds. */
  elapsedMs: number;
  /** The client processes: pid, and how each ended as waitpid(2) reported it. */
  children: Array<{ pid: number; status: string }>;
}

/** One connection's outcome, as a child reports it. */
interface ConnResult {
  status?: number;
  latencyMs?: number;
  error?: string;
}

interface Target {
  host: string;
  family: number;
  port: number;
  request: Buffer;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Parses the URL into what connect(2) needs, and the request bytes. */
function parseTarget(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`Invalid URL: ${url}`);
  }
  if (u.protocol !== 'http:') throw new TypeError(`Only http:// URLs are supported, got ${u.protocol}//`);
  let host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === 'localhost') host = '127.0.0.1';
  const family = net.isIPv4(host) ? AF_INET : net.isIPv6(host) ? AF_INET6 : 0;
  // A name lookup would start libuv's thread pool in this process before it forks.
  if (!family) throw new TypeError(`The URL's host must be a numeric IPv4/IPv6 address or localhost, got "${u.hostname}"`);
  const port = u.port ? Number(u.port) : 80;
  const path = `${u.pathname || '/'}${u.search}`;
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: forkserve-client\r\nAccept: */*\r\nConnection: close\r\n\r\n`, 'latin1');
  return { host, family, port, request };
}

const now = () => performance.now();

function kindOf(err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ETIMEDOUT' || code === 'FORKSERVE_TIMEOUT') return 'timeout';
  return code ?? 'error';
}

const TIMEOUT = Object.assign(new Error('timed out'), { code: 'FORKSERVE_TIMEOUT' });

/**
 * Runs a blocking call with alarm(2) armed for the time left before
 * `deadline`. SIGALRM has a handler installed without SA_RESTART, so the call
 * fails with EINTR when the alarm fires; that becomes a timeout.
 */
function bounded<T>(deadline: number, call: () => T): T {
  for (;;) {
    dispatchSignals();
    const left = deadline - now();
    if (left <= 0) throw TIMEOUT;
    alarm(Math.max(1, Math.ceil(left / 1000)));
    try {
      return call();
    } catch (err) {
      if ((err as { code?: string }).code !== 'EINTR') throw err;
      if (now() >= deadline) throw TIMEOUT;
      // Another signal interrupted the call: try again.
    } finally {
      alarm(0);
    }
  }
}

/** How the end of a response is known (RFC 9112 §6.3). */
interface Framing {
  status: number;
  /** Bytes of the head, blank line included. */
  headLength: number;
  /** none: 1xx, 204, 304; length: Content-Length; chunked: up to the last chunk; close: up to the end of the connection. */
  kind: 'none' | 'length' | 'chunked' | 'close';
  contentLength: number;
}

/** The framing of a response, once its head is complete; null before. */
function framingOf(head: Buffer): Framing | null {
  const end = head.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const text = head.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(text)?.[1] ?? 0);
  const f: Framing = { status, headLength: end + 4, kind: 'close', contentLength: 0 };
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(text);
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) f.kind = 'none';
  else if (/\r\ntransfer-encoding:[^\r\n]*chunked/i.test(text)) f.kind = 'chunked';
  else if (cl) {
    f.kind = 'length';
    f.contentLength = Number(cl[1]);
  }
  return f;
}

/**
 * Whether `total` bytes ending with `tail` (the last 5 bytes) make the whole
 * response. The end of a chunked body is recognised by its last chunk,
 * `0\r\n\r\n`; a response with trailers is read to the end of the connection
 * instead, which `Connection: close` bounds.
 */
function isComplete(f: Framing, total: number, tail: Buffer): boolean {
  switch (f.kind) {
    case 'none':
      return true;
    case 'length':
      return total >= f.headLength + f.contentLength;
    case 'chunked':
      return total >= f.headLength + 5 && tail.toString('latin1') === '0\r\n\r\n';
    default:
      return false;
  }
}

/** Reads one response from a blocking socket, keeping only its head: its status, or why there is none. */
function readResponse(fd: number, deadline: number): { status?: number; error?: string; done: number } {
  const buf = Buffer.alloc(64 * 1024);
  let head = Buffer.alloc(0); // the bytes up to the end of the head, while it is incomplete
  let framing: Framing | null = null;
  let total = 0;
  let tail = Buffer.alloc(0);
  for (;;) {
    const n = bounded(deadline, () => read(fd, buf));
    if (n === 0) {
      // End of stream: the end of a close-delimited response, or a short one.
      const whole = framing !== null && (framing.kind === 'close' || isComplete(framing, total, tail));
      return whole ? { status: framing!.status, done: now() } : { error: 'incomplete', done: now() };
    }
    const chunk = buf.subarray(0, n);
    total += n;
    tail = Buffer.concat([tail, chunk]).subarray(-5);
    if (!framing) {
      head = Buffer.concat([head, chunk]);
      framing = framingOf(head);
      if (!framing && head.length > 64 * 1024) return { error: 'incomplete', done: now() };
    }
    if (framing && isComplete(framing, total, tail)) return { status: framing.status, done: now() };
  }
}

/** Synchronous sleep: the child must not run the event loop it inherited. */
function sleepSync(seconds: number): void {
  if (seconds > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

/** The whole life of one client process. Never returns. */
function clientChild(reportFd: number, target: Target, conns: number, hold: number, timeoutMs: number): never {
  let code = 0;
  try {
    // Without SA_RESTART, so that alarm(2) interrupts a blocking call (EINTR).
    sigaction('SIGALRM', () => {});
    const results: ConnResult[] = [];
    const open: Array<{ fd: number; start: number; index: number }> = [];
    // Connect and send on every connection first: N × M requests in flight.
    for (let i = 0; i < conns; i++) {
      const start = now();
      let fd = -1;
      try {
        fd = socket(target.family, SOCK_STREAM);
        const deadline = start + timeoutMs;
        bounded(deadline, () => connect(fd, target.host, target.port));
        sendall(fd, target.request);
        open.push({ fd, start, index: i });
        results.push({});
      } catch (err) {
        results.push({ error: kindOf(err) });
        if (fd >= 0) close(fd);
      }
    }
    // Then read the responses, in the order the requests went out.
    for (const c of open) {
      try {
        const r = readResponse(c.fd, c.start + timeoutMs);
        results[c.index] = r.error ? { error: r.error } : { status: r.status, latencyMs: r.done - c.start };
      } catch (err) {
        results[c.index] = { error: kindOf(err) };
      }
    }
    sleepSync(hold);
    for (const c of open) close(c.fd);
    sendall(reportFd, Buffer.from(JSON.stringify(results)));
  } catch {
    code = 1;
  }
  _exit(code);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Summarises latencies (ms) with nearest-rank percentiles, rounded to 0.01 ms. */
export function summarizeLatencies(latencies: number[]): LatencySummary | null {
  if (latencies.length === 0) return null;
  const s = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    count: s.length,
    min: r(s[0]),
    mean: r(s.reduce((a, b) => a + b, 0) / s.length),
    p50: r(percentile(s, 50)),
    p90: r(percentile(s, 90)),
    p99: r(percentile(s, 99)),
    max: r(s[s.length - 1]),
  };
}

function describe(st: { exited: boolean; exitCode: number | null; signaled: boolean; signal: string | null }): string {
  if (st.exited) return `exited ${st.exitCode}`;
  if (st.signaled) return `killed by ${st.signal}`;
  return 'unknown';
}

/** Reads everything from `fd` until end of stream, without blocking the event loop. Takes ownership of `fd`. */
function readAll(fd: number): { done: Promise<Buffer>; destroy(): void } {
  const sock = new net.Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve) => {
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => resolve(Buffer.concat(chunks)));
  });
  return { done, destroy: () => sock.destroy() };
}

/** Forks the client processes, waits for their reports, reaps them and aggregates. */
export async function runClient(opts: ClientOptions): Promise<ClientReport> {
  const target = parseTarget(opts.url);
  const clients = opts.maxClients;
  const conns = opts.maxConns;
  const hold = opts.hold ?? 0;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(clients) || clients < 1) throw new RangeError(`maxClients must be an integer >= 1, got ${clients}`);
  if (!Number.isInteger(conns) || conns < 1) throw new RangeError(`maxConns must be an integer >= 1, got ${conns}`);
  if (!(hold >= 0) || !Number.isFinite(hold)) throw new RangeError(`hold must be a number of seconds >= 0, got ${hold}`);
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);

  const started = now();
  const kids: Array<{ pid: number; fd: number }> = [];
  // Fork everything first, synchronously: no handle of this loop exists yet
  // for a child to inherit, and the children start as close together as possible.
  try {
    for (let i = 0; i < clients; i++) {
      const [mine, theirs] = socketpair();
      let pid: number;
      try {
        pid = fork();
      } catch (err) {
        close(mine);
        close(theirs);
        throw err;
      }
      if (pid === 0) {
        close(mine);
        for (const k of kids) close(k.fd); // the other children's report channels
        clientChild(theirs, target, conns, hold, timeoutMs);
      }
      close(theirs);
      kids.push({ pid, fd: mine });
    }
  } catch (err) {
    for (const k of kids) {
      try {
        kill(k.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      waitpid(k.pid, 0);
      close(k.fd);
    }
    throw err;
  }

  // A child ends by its own timeouts; this only guards against one that hangs anyway.
  const limitMs = conns * timeoutMs + hold * 1000 + 5000;
  const readers = kids.map((k) => readAll(k.fd));
  const reports = await Promise.all(
    readers.map(async (r, i) => {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), Math.max(0, limitMs - (now() - started)));
      });
      const data = await Promise.race([r.done, expired]);
      clearTimeout(timer);
      if (data === null) {
        r.destroy();
        try {
          kill(kids[i].pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      return data;
    }),
  );

  // Reap every child, without blocking the event loop (each is about to _exit or was killed).
  const children: ClientReport['children'] = [];
  for (const k of kids) {
    let st = waitpid(k.pid, WNOHANG);
    for (let waited = 0; st.pid === 0; waited += 5) {
      if (waited >= 5000) {
        try {
          kill(k.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        st = waitpid(k.pid, 0);
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
      st = waitpid(k.pid, WNOHANG);
    }
    children.push({ pid: k.pid, status: describe(st) });
  }

  const byStatus: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  let responses = 0;
  reports.forEach((data) => {
    let results: ConnResult[] | null = null;
    try {
      results = data && data.length ? (JSON.parse(data.toString('utf8')) as ConnResult[]) : null;
    } catch {
      results = null;
    }
    if (!results || results.length !== conns) {
      errors.lost = (errors.lost ?? 0) + conns;
      return;
    }
    for (const r of results) {
      if (r.status !== undefined) {
        responses++;
        byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
        latencies.push(r.latencyMs ?? 0);
      } else {
        const kind = r.error ?? 'error';
        errors[kind] = (errors[kind] ?? 0) + 1;
      }
    }
  });
  const attempted = clients * conns;
  return {
    url: opts.url,
    clients,
    connsPerClient: conns,
    attempted,
    responses,
    byStatus,
    errors,
    errorCount: attempted - responses,
    latencyMs: summarizeLatencies(latencies),
    elapsedMs: Math.round((now() - started) * 100) / 100,
    children,
  };
}

const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;

/** The report as text, for a terminal. */
export function formatReport(report: ClientReport): string {
  const lines: string[] = [];
  lines.push(
    `${report.clients} client process${report.clients === 1 ? '' : 'es'} × ${report.connsPerClient} connection${report.connsPerClient === 1 ? '' : 's'} to ${report.url}: ` +
      `${report.attempted} requests in ${(report.elapsedMs / 1000).toFixed(2)} s`,
  );
  const statuses = Object.entries(report.byStatus)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([s, n]) => `${s}: ${n}`);
  lines.push(`responses: ${report.responses}${statuses.length ? ` (${statuses.join(', ')})` : ''}`);
  const errs = Object.entries(report.errors)
    .sort(([, a], [, b]) => b - a)
    .map(([k, n]) => `${k}: ${n}`);
  lines.push(`errors:    ${report.errorCount}${errs.length ? ` (${errs.join(', ')})` : ''}`);
  const l = report.latencyMs;
  lines.push(l ? `latency:   p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, max ${ms(l.max)} (min ${ms(l.min)}, mean ${ms(l.mean)})` : 'latency:   no complete responses');
  const abnormal = report.children.filter((c) => c.status !== 'exited 0');
  if (abnormal.length) lines.push(`client processes that failed: ${abnormal.map((c) => `${c.pid} ${c.status}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

const USAGE = `Usage: forkserve client --max-clients N --max-conns M [options]

Forks N client processes; each opens M connections to URL, sends a GET on
each, reads the responses and reports to the parent, which reaps them all.

Options:
  -c, --max-clients N   client processes to fork (required)
  -n, --max-conns M     connections per client process (required)
  -u, --url URL         http://HOST[:PORT]/PATH, numeric host (default http://127.0.0.1:8888/)
      --hold S          seconds each client keeps its sockets open after the responses (default 0)
      --timeout S       per connection, connect + response (default 10; resolution 1 s)
      --json            print the report as JSON
  -h, --help            this text

Exit status: 0 when every connection got a complete response, 1 otherwise, 2 on a usage error.
`;

function positive(name: string, value: string | undefined, integer: boolean): number {
  const n = Number(value);
  if (value === undefined || value === '' || !Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 1))) {
    throw new TypeError(`--${name} must be ${integer ? 'an integer >= 1' : 'a number >= 0'}, got "${value ?? ''}"`);
  }
  return n;
}

/** `forkserve client ...`: runs the client and prints the report. Returns the exit status. */
export async function clientMain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        'max-clients': { type: 'string', short: 'c' },
        'max-conns': { type: 'string', short: 'n' },
        url: { type: 'string', short: 'u' },
        hold: { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`forkserve client: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  let opts: ClientOptions;
  try {
    if (values['max-clients'] === undefined || values['max-conns'] === undefined) throw new TypeError('--max-clients and --max-conns are required');
    opts = {
      url: values.url ?? 'http://127.0.0.1:8888/',
      maxClients: positive('max-clients', values['max-clients'], true),
      maxConns: positive('max-conns', values['max-conns'], true),
      hold: values.hold === undefined ? 0 : positive('hold', values.hold, false),
      timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : positive('timeout', values.timeout, false) * 1000,
    };
    parseTarget(opts.url);
    if (!(opts.timeoutMs! > 0)) throw new TypeError('--timeout must be > 0');
  } catch (err) {
    process.stderr.write(`forkserve client: ${(err as Error).message}\n`);
    return 2;
  }
  const report = await runClient(opts);
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.errorCount === 0 ? 0 : 1;
}
