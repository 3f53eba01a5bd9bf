/**
 * The forkserve command:
 *   forkserve APP [--bind HOST:PORT] [--backlog N] [--engine fork] [--max-children N] [--timeout S]
 *   forkserve ps PID [--json]
 */
import { parseArgs } from 'node:util';
import { loadApp } from './load.js';
import { parseBind } from './listen.js';
import { serve, ENGINES, type EngineName } from './serve.js';

const USAGE = `Usage:
  forkserve APP[:EXPORT] [options]     serve an app (WSGI-style function or Fetch-style object)
  forkserve ps PID [--json]            show a process tree and its descriptors
  forkserve watch PID [--interval MS]  a live view of a process tree, refreshed in place
  forkserve status PID [--bind HOST:PORT]  a web page of the tree and descriptors (default 127.0.0.1:8889)
  forkserve client --max-clients N --max-conns M [--url URL] [--hold S]
                                       the forking load client (docs/lessons.md)

Options:
  -b, --bind HOST:PORT     address to listen on (default 127.0.0.1:8888)
      --backlog N          listen(2) backlog (default 2048)
  -k, --engine NAME        ${ENGINES.join(' | ')} (default fork)
  -w, --workers N          prefork, node: worker processes (default: number of CPUs)
      --max-children N     fork: at most N children at once (default: no bound)
      --max-requests N     prefork: replace a worker after N requests (default 0: never)
      --max-requests-jitter N  prefork: up to N more, chosen per worker
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
      --no-access-log      no access-log lines
      --watch              show the live process view (forkserve watch) of this server on stdout
      --status HOST:PORT   serve the status page of this server on HOST:PORT
  -h, --help               this text
`;

function int(name: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TypeError(`--${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${value}"`);
  }
  return n;
}

async function ps(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const pid = Number(positionals[0]);
  if (!Number.isInteger(pid) || pid <= 0) {
    process.stderr.write(`forkserve ps: expected a PID\n`);
    return 2;
  }
  const { renderPs } = await import('./observe/format.js');
  try {
    process.stdout.write(renderPs(pid, { json: values.json }));
    return 0;
  } catch (err) {
    process.stderr.write(`forkserve ps: ${(err as Error).message}\n`);
    return 1;
  }
}

export async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'ps') return ps(argv.slice(1));
  if (argv[0] === 'watch') return (await import('./observe/watch.js')).watchMain(argv.slice(1));
  if (argv[0] === 'status') return (await import('./observe/status-server.js')).statusMain(argv.slice(1));
  if (argv[0] === 'client') return (await import('./client.js')).clientMain(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bind: { type: 'string', short: 'b' },
      backlog: { type: 'string' },
      engine: { type: 'string', short: 'k' },
      'max-children': { type: 'string' },
      workers: { type: 'string', short: 'w' },
      'max-requests': { type: 'string' },
      'max-requests-jitter': { type: 'string' },
      timeout: { type: 'string', short: 't' },
      'graceful-timeout': { type: 'string' },
      'max-body': { type: 'string' },
      'keep-alive': { type: 'string' },
      'limit-request-line': { type: 'string' },
      'limit-request-fields': { type: 'string' },
      'limit-headers-size': { type: 'string' },
      'headers-timeout': { type: 'string' },
      'no-access-log': { type: 'boolean' },
      watch: { type: 'boolean' },
      status: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  const engine = (values.engine ?? 'fork') as EngineName;
  if (!ENGINES.includes(engine)) throw new TypeError(`Unknown engine "${engine}": expected one of ${ENGINES.join(', ')}`);
  const { host, port } = parseBind(values.bind ?? '127.0.0.1:8888');
  const spec = positionals[0];
  const app = await loadApp(spec);
  // Observers start (and their launcher exits) before the engine forks anything.
  if (values.watch) await (await import('./observe/watch.js')).startWatchForSelf();
  if (values.status !== undefined) await (await import('./observe/status-server.js')).startStatusForSelf(values.status);
  const keepAlive = int('keep-alive', values['keep-alive']);
  const headersTimeout = int('headers-timeout', values['headers-timeout'], 1);
  await serve(app, {
    engine,
    host,
    port,
    backlog: int('backlog', values.backlog, 1),
    maxChildren: int('max-children', values['max-children']),
    workers: int('workers', values.workers, 1),
    maxRequests: int('max-requests', values['max-requests']),
    maxRequestsJitter: int('max-requests-jitter', values['max-requests-jitter']),
    reload: () => loadApp(spec, process.cwd(), { fresh: true }),
    timeout: int('timeout', values.timeout),
    gracefulTimeout: int('graceful-timeout', values['graceful-timeout']),
    maxBodyBytes: int('max-body', values['max-body']),
    keepAliveTimeoutMs: keepAlive === undefined ? undefined : keepAlive * 1000,
    headersTimeoutMs: headersTimeout === undefined ? undefined : headersTimeout * 1000,
    maxRequestLine: int('limit-request-line', values['limit-request-line'], 16),
    maxHeaders: int('limit-request-fields', values['limit-request-fields'], 1, 128),
    maxHeaderBytes: int('limit-headers-size', values['limit-headers-size'], 64),
    accessLog: !values['no-access-log'],
  });
  return 0;
}
