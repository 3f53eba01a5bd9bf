/**
 * `npm run soak`: the fork-safety soak (docs/soak.md).
 *
 *   npm run soak -- [--requests N] [--noflag-requests N] [--noparking-requests N] [--concurrency N]
 *                   [--timeout S] [--noflag-timeout S] [--noflag-servers N]
 *                   [--phases fork,prefork,noflag,noparking] [--max-minutes M] [--out DIR]
 *
 * Phases, each on a fresh server serving test/fixtures/churn.ts:
 *   fork     the fork engine, N requests (default 20,000)
 *   prefork  prefork, 2 workers, --max-requests 50 (a worker recycled every
 *            50 requests), N requests
 *   noflag   the fork engine started WITHOUT --single-threaded (plain
 *            `node bin/forkserve.js`, FORKSERVE_NO_REEXEC=1), default 5,000,
 *            with --timeout 3, split over 5 server instances (whether children
 *            hang depended on the state each parent forked from, before
 *            parking: see docs/soak.md)
 *   noparking  prefork as above with FORKSERVE_NO_PARKING=1: fork() leaves
 *            Node's platform threads where they are (default 4,000): the
 *            evidence of what parking prevents
 * each a new connection per request, 32 at a time, the server's --timeout 10.
 * Prints a table and writes bench/results/soak-<timestamp>.md. Exits 1 when
 * a phase with parking is not clean (noparking is evidence, not a target).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './server.js';
import { ZOMBIE_GRACE_MS, mergeSoak, runSoak, soakClean, soakTable, type SoakOptions, type SoakResult } from './soak-core.js';

const { values: opt } = parseArgs({
  args: process.argv.slice(2),
  options: {
    requests: { type: 'string' },
    'noflag-requests': { type: 'string' },
    'noparking-requests': { type: 'string' },
    concurrency: { type: 'string' },
    timeout: { type: 'string' },
    'noflag-timeout': { type: 'string' },
    'noflag-servers': { type: 'string' },
    phases: { type: 'string' },
    'max-minutes': { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write('Usage: npm run soak -- [--requests N] [--noflag-requests N] [--noparking-requests N] [--concurrency N] [--timeout S] [--noflag-timeout S] [--noflag-servers N] [--phases fork,prefork,noflag,noparking] [--max-minutes M] [--out DIR]\n');
  process.exit(0);
}

const int = (name: string, v: string | undefined, dflt: number, max: number) => {
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    process.stderr.write(`soak: --${name} must be an integer in 1..${max}\n`);
    process.exit(2);
  }
  return n;
};
const REQUESTS = int('requests', opt.requests, 20_000, 1_000_000);
const NOFLAG_REQUESTS = int('noflag-requests', opt['noflag-requests'], 5_000, 1_000_000);
const NOPARKING_REQUESTS = int('noparking-requests', opt['noparking-requests'], 4_000, 1_000_000);
const CONCURRENCY = int('concurrency', opt.concurrency, 32, 1000);
const TIMEOUT = int('timeout', opt.timeout, 10, 3600);
// A shorter watchdog for the phase without --single-threaded: its children hung often before parking (docs/soak.md).
const NOFLAG_TIMEOUT = int('noflag-timeout', opt['noflag-timeout'], 3, 3600);
// Whether its children hang depends on the state the parent forks from, fixed per server: several servers, the requests split.
const NOFLAG_SERVERS = int('noflag-servers', opt['noflag-servers'], 5, 100);
const MAX_MS = int('max-minutes', opt['max-minutes'], 15, 60) * 60_000;
const OUT_DIR = path.resolve(opt.out ?? path.join(ROOT, 'bench/results'));
const PHASES = ['fork', 'prefork', 'noflag', 'noparking'];
const phases = (opt.phases ?? PHASES.join(',')).split(',').map((s) => s.trim());
for (const p of phases) {
  if (!PHASES.includes(p)) {
    process.stderr.write(`soak: unknown phase "${p}": expected ${PHASES.join(', ')}\n`);
    process.exit(2);
  }
}

const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-soak-'));
const progress = (line: string) => process.stderr.write(`soak: ${line}\n`);
const defs: Record<string, SoakOptions> = {
  fork: { name: 'fork', kind: 'fork', engineArgs: ['--engine', 'fork'], requests: REQUESTS },
  prefork: { name: 'prefork --max-requests 50', kind: 'prefork', engineArgs: ['--engine', 'prefork', '--workers', '2', '--max-requests', '50'], requests: REQUESTS },
  noflag: { name: 'fork, no --single-threaded', kind: 'fork', engineArgs: ['--engine', 'fork'], requests: NOFLAG_REQUESTS, singleThreaded: false, timeoutS: NOFLAG_TIMEOUT },
  noparking: {
    name: 'prefork --max-requests 50, no parking', kind: 'prefork', engineArgs: ['--engine', 'prefork', '--workers', '2', '--max-requests', '50'],
    requests: NOPARKING_REQUESTS, parking: false,
  },
};

const total = phases.reduce((n, p) => n + defs[p].requests, 0);
progress(`${phases.length} phase(s), ${total.toLocaleString('en-US')} requests, ${CONCURRENCY} at a time, server --timeout ${TIMEOUT}; ` +
  `each phase bounded to ${MAX_MS / 60_000} min (the fork engine serves this app at roughly 30-70 req/s on 2 cores: 10-20 min in all)`);

const started = new Date();
const results: SoakResult[] = [];
for (const p of phases) {
  const d = defs[p];
  progress(`${d.name}: starting (${d.requests.toLocaleString('en-US')} requests)`);
  const servers = p === 'noflag' ? Math.min(NOFLAG_SERVERS, d.requests) : 1;
  const parts: SoakResult[] = [];
  for (let k = 0; k < servers; k++) {
    const share = Math.floor(d.requests / servers) + (k < d.requests % servers ? 1 : 0);
    const part = await runSoak({
      timeoutS: TIMEOUT, ...d, requests: share, concurrency: CONCURRENCY, maxMs: MAX_MS / servers,
      logFile: path.join(logDir, `${p}${servers > 1 ? `-${k + 1}` : ''}.log`), progress,
    });
    if (servers > 1) progress(`${d.name}: server ${k + 1}/${servers}: ${part.completed} requests, ${part.status503} answered 503 by the watchdog, ${part.stalled} stalled`);
    parts.push(part);
  }
  const r = servers > 1 ? mergeSoak(d.name, parts) : parts[0];
  results.push(r);
  progress(`${d.name}: ${r.completed} requests in ${r.seconds.toFixed(0)} s; hung ${r.hung}, zombies at end ${r.zombiesAtEnd}, lingering ${r.zombiesLingering}, ` +
    `fd delta ${r.fdDelta}, failed ${r.failed}, 503 ${r.status503}, exited 124 ${r.exited124}; log ${r.logFile}`);
  for (const h of r.hungDetails.slice(0, 10)) progress(`  hung: ${h}`);
}

const stamp = started.toISOString().replace(/\.\d+Z$/, '').replace(/:/g, '-');
const targets = results.filter((r) => r.parking);
const md = [
  `# forkserve fork-safety soak, ${started.toISOString().replace(/\.\d+Z$/, 'Z')}`,
  '',
  `${os.cpus().length} CPUs, Linux ${os.release()}, Node ${process.version}. App: test/fixtures/churn.ts (2–5 MB of short-lived objects and a ` +
  `rotating ~20 MB long-lived set per request; the parent churned ${process.env.CHURN_LOAD_MB ?? 64} MB at load). Client: ${CONCURRENCY} concurrent connections, ` +
  `one request each (Connection: close), node:net. Definitions: docs/soak.md ` +
  `(hung: a fork child alive more than its server's --timeout + 1 s, or a prefork worker without progress (CPU time, a context switch) that long, during the load, ` +
  `or a child a watchdog ended: "exited 124", WORKER TIMEOUT; ` +
  `a lingering zombie: seen in state Z across more than ${ZOMBIE_GRACE_MS} ms).`,
  '',
  soakTable(results),
  ...results.filter((r) => r.hungDetails.length).map((r) => `Hung in "${r.name}": ${r.hungDetails.slice(0, 10).join('; ')}${r.hungDetails.length > 10 ? '; ...' : ''}\n`),
  targets.length
    ? `Target (zero hung, zombies, fd delta and failed requests in every phase with parking): **${targets.every(soakClean) ? 'PASS' : 'MISS'}**` +
      `${targets.filter((r) => !soakClean(r)).map((r) => ` (${r.name}: ${r.completed < r.requested ? `only ${r.completed} of ${r.requested} requests sent within the time bound` : 'not clean'})`).join('')}. ` +
      'The phase without parking is evidence, not a target.'
    : '',
  '',
].join('\n');
fs.mkdirSync(OUT_DIR, { recursive: true });
const file = path.join(OUT_DIR, `soak-${stamp}.md`);
fs.writeFileSync(file, md);
process.stdout.write(md);
progress(`wrote ${path.relative(process.cwd(), file)}`);
process.exitCode = targets.every(soakClean) ? 0 : 1;
