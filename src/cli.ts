/**
 * The forkserve command:
 *   forkserve APP [--bind HOST:PORT] [--engine fork] [--interface auto] ...
 *   forkserve ps | watch | status | client ...
 * Exit statuses (documented in --help): 0 stopped by a signal or finished,
 * 1 a runtime failure (cannot listen, the app failed to load), 2 a usage
 * error (bad option, no such module, no app in it, an interface that cannot
 * be told).
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { bindInterface, INTERFACES, type InterfaceName } from './apps/index.js';
import { AppNotFoundError, loadApp } from './load.js';
import { BindSyntaxError, parseBindTarget } from './listen.js';
import { compileTrust } from './apps/forwarded.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { serve, ENGINES, type EngineName } from './serve.js';
import { serveStatic, type StaticApp, type StaticOptions } from './static/serve-static.js';

/** A mistake in what the user typed: exit status 2. */
export class UsageError extends Error {}

const USAGE = `Usage:
  forkserve APP[:EXPORT] [options]     serve an app: a file path (.ts loads directly), then
                                       optionally :EXPORT (default: default, app, application)
  forkserve --static DIR [options]     serve the files of a directory (no app)
  forkserve ps PID [--json] [--all]    show a process tree and its descriptors (--all: also the
                                       standard streams and /dev/null)
  forkserve watch PID [--interval MS]  a live view of a process tree, refreshed in place
  forkserve status PID [--bind HOST:PORT]  a web page of the tree and descriptors (default 127.0.0.1:8889)
  forkserve client --max-clients N --max-conns M [--url URL] [--hold S]
                                       the forking load client (docs/lessons.md)

Options:
  -b, --bind ADDRESS       where to listen (default 127.0.0.1:8888; repeat it to serve several):
                           HOST:PORT, [IPv6]:PORT,
                           :PORT (all IPv4 interfaces), PORT (127.0.0.1), unix:PATH (an AF_UNIX
                           socket, mode 0666, a stale one replaced), fd://N (an inherited
                           listening socket). Sockets systemd passes (LISTEN_FDS) come first
      --backlog N          listen(2) backlog (default 2048)
      --reuse-port         SO_REUSEPORT: several servers may listen on the same HOST:PORT, and
                           the kernel spreads new connections among them
      --pid FILE           write the master's pid to FILE while serving
      --proxy-protocol     every connection starts with a PROXY protocol v1/v2 header (HAProxy's
                           send-proxy-v2): its source is the client (REMOTE_ADDR); a connection
                           without one is closed unanswered (not with the node engine or interface)
      --forwarded-allow-ips LIST  peers whose X-Forwarded-For/-Proto and Forwarded fields set
                           REMOTE_ADDR and the URL scheme (addresses, CIDRs, '*'; default
                           $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1)
  -k, --engine NAME        ${ENGINES.join(' | ')} (default fork)
  -i, --interface NAME     ${INTERFACES.join(' | ')} (default auto): wsgi app(environ, startResponse),
                           fetch { fetch(request) }, node (req, res) listener (Express, Koa)
  -w, --workers N          prefork, node: worker processes (default: number of CPUs)
      --max-children N     fork: at most N children at once; at the bound, accepting waits for
                           an exit (default: half of RLIMIT_NPROC, half the memory at 1 MiB per
                           child, at most 4096; 0: no bound)
      --fork-after WHEN    fork: head (default): a connection gets its child once its request
                           head has come, read by the parent without blocking (a slow client
                           holds a descriptor, not a process; --headers-timeout applies);
                           accept: right after accept(2), the course's server
      --trace-forks        fork: a lesson mode. Each stage of a connection (accepted: the parent
                           holds the socket; forked: parent and child hold it, 2 references; the
                           parent closed its copy; the child exited, a zombie until reaped) is
                           logged and lasts --trace-pause MS (default 1500), so forkserve watch
                           and the status page show it (docs/lessons.md, "The fork moment")
      --max-requests-jitter N  prefork: up to N more, chosen per worker
      --max-worker-rss MIB prefork, node: replace a worker, gracefully, once its resident set passes
                           MIB (checked each second; shared pages count; default 0: never)
  -t, --timeout S          a request running longer gets 503 if nothing was sent (fork:
                           its child is ended; poll, prefork: the connection closes);
                           prefork: a worker silent that long is killed (default 30, 0: none)
      --graceful-timeout S seconds in-flight requests get after SIGTERM (default 30)
      --max-body BYTES     largest request body, else 413 (default 1 GiB)
      --limit-request-line BYTES    longest request line, else 414 (default 8192)
      --limit-request-fields N      most header fields, else 431 (default 100, at most 128)
      --limit-headers-size BYTES    largest header section, else 431 (default 16384)
      --headers-timeout S  seconds for the header section to arrive, else 408 (default 30)
      --keep-alive S       idle seconds a persistent connection is kept (default 5)
      --static [PREFIX=]DIR  serve the files under DIR at PREFIX (default /), natively with
                           sendfile(2); beside an APP, the app gets every request the files
                           do not answer (no such file, methods other than GET and HEAD).
                           May be repeated; the first match wins (docs/static.md)
      --static-listing     list a directory that has no index.html (default: 404)
      --static-follow-symlinks  follow symlinks, also out of DIR (default: 403)
      --static-dotfiles    serve names starting with '.' (default: 404)
      --static-cache-control VALUE  Cache-Control of file responses (default: none)
      --no-access-log      no access-log lines
      --access-logfile FILE  append access-log lines to FILE ('-': stdout; default stderr)
      --error-logfile FILE   append the other log lines to FILE ('-' and default: stderr);
                           SIGUSR1 opens both files again by name (after logrotate)
      --log-level LEVEL    debug | info | warning | error (default info); debug adds a line
                           per reaped fork child (exit 0)
      --watch              show the live process view (forkserve watch) of this server on stdout
      --status HOST:PORT   serve the status page of this server on HOST:PORT
  -v, --version            print the version
  -h, --help               this text

Exit status: 0 stopped (SIGTERM, SIGINT, SIGQUIT); 1 a runtime failure (the address
cannot be bound, the app threw while loading); 2 a usage error (an unknown or bad
option, no such module, no app in it, an interface that cannot be told).
`;

function int(name: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${value}"`);
  }
  return n;
}

async function ps(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, all: { type: 'boolean' } } });
  const pid = Number(positionals[0]);
  if (!Number.isInteger(pid) || pid <= 0) {
    process.stderr.write(`forkserve ps: expected a PID\n`);
    return 2;
  }
  const { renderPs } = await import('./observe/format.js');
  try {
    process.stdout.write(renderPs(pid, { json: values.json, all: values.all }));
    return 0;
  } catch (err) {
    process.stderr.write(`forkserve ps: ${(err as Error).message}\n`);
    return 1;
  }
}

/** Throws UsageError unless the --access-logfile/--error-logfile FILE can be opened for appending ('-' is `dash`). */
function logFileUsable(flag: string, file: string | undefined, dash: string): void {
  if (file === undefined || file === '-') return;
  try {
    fs.closeSync(fs.openSync(file, 'a', 0o644));
  } catch (err) {
    throw new UsageError(`--${flag} ${file}: cannot open it for appending (${(err as { code?: string }).code ?? (err as Error).message}). Give a writable file path, or - for ${dash}`);
  }
}

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * The --static mounts (`[PREFIX=]DIR`), chained in the order given (the
 * first is asked first), or undefined when there are none. Throws
 * UsageError for a directory that cannot be opened.
 */
function staticMounts(mounts: string[], options: StaticOptions): StaticApp | undefined {
  let chain: StaticApp | undefined;
  for (const mount of [...mounts].reverse()) {
    const eq = mount.indexOf('=');
    const [prefix, dir] = mount.startsWith('/') && eq > 0 ? [mount.slice(0, eq), mount.slice(eq + 1)] : ['/', mount];
    if (dir === '') throw new UsageError(`--static ${mount}: no directory after '='. Use --static [PREFIX=]DIR, e.g. --static /assets=./public`);
    try {
      chain = serveStatic(dir, { ...options, prefix, app: chain });
    } catch (err) {
      const code = (err as { code?: string }).code;
      const why = code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
      throw new UsageError(`--static ${mount}: ${why} (${dir}). Give a directory to serve`);
    }
  }
  return chain;
}

/**
 * Runs the command; resolves with the exit status. Every failure is one
 * line on stderr, `forkserve: what happened. What to do.`, and status 1 or 2
 * (above).
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    const usage = e instanceof UsageError || e instanceof AppNotFoundError || e instanceof BindSyntaxError
      || e?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e?.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
      || e?.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL';
    let message = e?.message ?? String(err);
    if (e?.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') message = `${message.replace(/\. To specify.*$/s, '')}. See forkserve --help`;
    process.stderr.write(`forkserve: ${message}\n`);
    return usage ? 2 : 1;
  }
}

async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'ps') return ps(argv.slice(1));
  if (argv[0] === 'watch') return (await import('./observe/watch.js')).watchMain(argv.slice(1));
  if (argv[0] === 'status') return (await import('./observe/status-server.js')).statusMain(argv.slice(1));
  if (argv[0] === 'client') return (await import('./client.js')).clientMain(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bind: { type: 'string', short: 'b', multiple: true },
      backlog: { type: 'string' },
      engine: { type: 'string', short: 'k' },
      interface: { type: 'string', short: 'i' },
      version: { type: 'boolean', short: 'v' },
      'max-children': { type: 'string' },
      workers: { type: 'string', short: 'w' },
      'max-requests': { type: 'string' },
      'trace-forks': { type: 'boolean' },
      'fork-after': { type: 'string' },
      'trace-pause': { type: 'string' },
      'max-requests-jitter': { type: 'string' },
      'max-worker-rss': { type: 'string' },
      timeout: { type: 'string', short: 't' },
      'graceful-timeout': { type: 'string' },
      'max-body': { type: 'string' },
      'keep-alive': { type: 'string' },
      'limit-request-line': { type: 'string' },
      'limit-request-fields': { type: 'string' },
      'limit-headers-size': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'no-access-log': { type: 'boolean' },
      'access-logfile': { type: 'string' },
      'error-logfile': { type: 'string' },
      'log-level': { type: 'string' },
      pid: { type: 'string' },
      'reuse-port': { type: 'boolean' },
      'forwarded-allow-ips': { type: 'string' },
      'proxy-protocol': { type: 'boolean' },
      static: { type: 'string', multiple: true },
      'static-listing': { type: 'boolean' },
      'static-follow-symlinks': { type: 'boolean' },
      'static-dotfiles': { type: 'boolean' },
      'static-cache-control': { type: 'string' },
      watch: { type: 'boolean' },
      status: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.version) {
    process.stdout.write(`forkserve ${version()}\n`);
    return 0;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const mounts = values.static ?? [];
  if (positionals.length !== 1 && !(positionals.length === 0 && mounts.length > 0)) {
    throw new UsageError(positionals.length === 0
      ? 'No app given: run forkserve APP[:EXPORT], for example forkserve examples/hello.ts (forkserve --help lists the options)'
      : `One app at a time: got ${positionals.length} (${positionals.join(' ')}). Options start with -- (forkserve --help)`);
  }
  const engine = (values.engine ?? 'fork') as EngineName;
  if (!ENGINES.includes(engine)) throw new UsageError(`Unknown engine "${engine}": expected one of ${ENGINES.join(', ')}`);
  const iface = (values.interface ?? 'auto') as InterfaceName | 'auto';
  if (!INTERFACES.includes(iface)) throw new UsageError(`Unknown interface "${iface}": expected one of ${INTERFACES.join(', ')}`);
  if (values['forwarded-allow-ips'] !== undefined) {
    try {
      compileTrust(values['forwarded-allow-ips']);
    } catch (err) {
      throw new UsageError(`${(err as Error).message}. Give addresses or CIDR ranges separated by commas, or '*'`);
    }
  }
  for (const [flag, what] of [['access-logfile', 'stdout'], ['error-logfile', 'stderr']] as const) logFileUsable(flag, values[flag], what);
  const logLevel = (values['log-level'] ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`Unknown --log-level "${logLevel}": expected one of ${LOG_LEVELS.join(', ')}`);
  if (values['trace-forks'] && engine !== 'fork') throw new UsageError(`--trace-forks traces the fork engine's accept, fork, close and reap: use it with -k fork (got -k ${engine})`);
  if (values['trace-pause'] !== undefined && !values['trace-forks']) throw new UsageError('--trace-pause sets how long each stage of --trace-forks lasts: give --trace-forks too');
  const tracePause = int('trace-pause', values['trace-pause'], 10, 600_000);
  const forkAfter = values['fork-after'];
  if (forkAfter !== undefined && forkAfter !== 'head' && forkAfter !== 'accept') throw new UsageError(`--fork-after must be head or accept, got "${forkAfter}"`);
  if (forkAfter !== undefined && engine !== 'fork') throw new UsageError(`--fork-after says when the fork engine forks: use it with -k fork (got -k ${engine})`);
  const bind = values.bind ?? ['127.0.0.1:8888'];
  for (const b of bind) {
    const target = parseBindTarget(b);
    if (target.kind === 'tcp' && target.allInterfaces) process.stderr.write(`forkserve: --bind ${b} listens on every ${target.host === '::' ? 'IPv6' : 'IPv4'} interface of this machine, not only loopback\n`);
  }
  const spec: string | undefined = positionals[0];
  const loaded = spec === undefined ? undefined : (await loadApp(spec)).app;
  // An interface that cannot be told is a usage error, found before anything listens.
  if (spec !== undefined) {
    try {
      bindInterface(loaded, iface);
    } catch (err) {
      throw new UsageError(`${spec}: ${(err as Error).message}`);
    }
  }
  const files = staticMounts(mounts, {
    listing: values['static-listing'], followSymlinks: values['static-follow-symlinks'],
    dotfiles: values['static-dotfiles'], cacheControl: values['static-cache-control'],
  });
  const app = files ? files.withApp(loaded as StaticOptions['app']) : loaded;
  // Observers start (and their launcher exits) before the engine forks anything.
  if (values.watch) await (await import('./observe/watch.js')).startWatchForSelf();
  if (values.status !== undefined) await (await import('./observe/status-server.js')).startStatusForSelf(values.status);
  const keepAlive = int('keep-alive', values['keep-alive']);
  const headersTimeout = int('headers-timeout', values['headers-timeout'], 1);
  await serve(app as Parameters<typeof serve>[0], {
    engine,
    interface: iface,
    appName: spec ?? 'static',
    bind,
    pidFile: values.pid,
    reusePort: values['reuse-port'],
    forwardedAllowIps: values['forwarded-allow-ips'],
    proxyProtocol: values['proxy-protocol'],
    backlog: int('backlog', values.backlog, 1),
    maxChildren: int('max-children', values['max-children']),
    traceForksMs: values['trace-forks'] ? tracePause ?? 1500 : undefined,
    forkAfter: forkAfter as 'head' | 'accept' | undefined,
    workers: int('workers', values.workers, 1),
    maxRequests: int('max-requests', values['max-requests']),
    maxRequestsJitter: int('max-requests-jitter', values['max-requests-jitter']),
    maxWorkerRssMiB: int('max-worker-rss', values['max-worker-rss'], 0, 1 << 20),
    reload: spec === undefined ? undefined : async () => {
      const next = (await loadApp(spec, process.cwd(), { fresh: true })).app;
      return { app: files ? files.withApp(next as StaticOptions['app']) : next };
    },
    timeout: int('timeout', values.timeout),
    gracefulTimeout: int('graceful-timeout', values['graceful-timeout']),
    maxBodyBytes: int('max-body', values['max-body']),
    keepAliveTimeoutMs: keepAlive === undefined ? undefined : keepAlive * 1000,
    headersTimeoutMs: headersTimeout === undefined ? undefined : headersTimeout * 1000,
    maxRequestLine: int('limit-request-line', values['limit-request-line'], 16),
    maxHeaders: int('limit-request-fields', values['limit-request-fields'], 1, 128),
    maxHeaderBytes: int('limit-headers-size', values['limit-headers-size'], 64),
    accessLog: !values['no-access-log'],
    accessLogFile: values['access-logfile'],
    errorLogFile: values['error-logfile'],
    logLevel,
  });
  return 0;
}
