/**
 * What `npm run bench` runs: forkserve's engines, and the servers a user
 * would pick instead (the anchors), each able to serve the bench's three
 * apps with the same semantics at `/hello`, `/json` and `/echo`:
 *  - hello: 200, text/plain, "Hello, World!";
 *  - json:  200, application/json, a small object serialized per request;
 *  - echo:  a 64 KiB POST body read whole and sent back;
 *  - static4k, static1m: a 4 KiB and a 1 MiB file of a directory (keep-alive
 *    only), served by the servers that serve files (`files`).
 * A server def turns an app into a command line (StartOptions), or says
 * why it cannot serve it.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { CLI, ROOT, type StartOptions } from './server.js';

export type AppId = 'hello' | 'json' | 'echo' | 'static4k' | 'static1m';
export type Mode = 'close' | 'keepalive';

/** `file`: the app is that file of the bench's static directory, at /NAME. */
export interface AppDef { id: AppId; label: string; post?: boolean; file?: { name: string; bytes: number } }
export const APPS: AppDef[] = [
  { id: 'hello', label: 'text "Hello, World!"' },
  { id: 'json', label: 'small JSON' },
  { id: 'echo', label: 'POST 64 KiB echo', post: true },
  { id: 'static4k', label: 'static file, 4 KiB', file: { name: '4k.bin', bytes: 4096 } },
  { id: 'static1m', label: 'static file, 1 MiB', file: { name: '1m.bin', bytes: 1 << 20 } },
];

/** The request path of an app. */
export const appPath = (a: AppDef): string => (a.file ? `/${a.file.name}` : `/${a.id}`);

/** Writes the static apps' files (random bytes) into dir. */
export function writeStaticFiles(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  // nginx's workers run as an unprivileged user: the directory and its parent must be searchable.
  fs.chmodSync(path.dirname(dir), 0o755);
  fs.chmodSync(dir, 0o755);
  for (const a of APPS) if (a.file) fs.writeFileSync(path.join(dir, a.file.name), crypto.randomBytes(a.file.bytes));
}

export const MODES: { id: Mode; label: string }[] = [
  { id: 'close', label: 'New connection per request (Connection: close)' },
  { id: 'keepalive', label: 'Keep-alive' },
];

/** How a def starts for one app, given a scratch directory and a free port. */
export interface Launch extends Omit<StartOptions, 'logFile' | 'cpu'> {}

export interface ServerDef {
  id: string;
  label: string;
  /** 'forkserve' rows are measured; 'anchor' rows are what they are compared with. */
  kind: 'forkserve' | 'anchor';
  /** Which app family it runs: the WSGI apps, the Hono app, the Express app, or its own code. */
  family: 'wsgi' | 'hono' | 'express' | 'native';
  /** Worker processes it boots after listening (prefork): wait for each "Booting worker" line. */
  workers?: number;
  /** Why it cannot run an app or mode, or undefined when it can. */
  cannot?(app: AppDef, mode: Mode): string | undefined;
  /** The command; `port` is a free port for servers that need one chosen for them. */
  launch?(app: AppDef, ctx: { tmp: string; port: number }): Launch;
  /** The command that serves the files of `dir`, for servers that serve files. */
  files?(dir: string, ctx: { tmp: string; port: number }): Launch;
}

/** Why `def` does not run `app` in `mode`, or undefined when it does. */
export function cannotRun(def: ServerDef, app: AppDef, mode: Mode): string | undefined {
  if (app.file) return !def.files ? 'serves no static files' : mode !== 'keepalive' ? 'static cells are keep-alive only' : def.cannot?.(app, mode);
  if (!def.launch) return 'serves only files';
  return def.cannot?.(app, mode);
}

/** The command of one cell; `dir` holds the static apps' files. */
export function launchCell(def: ServerDef, app: AppDef, ctx: { tmp: string; port: number; dir: string }): Launch {
  return app.file ? def.files!(ctx.dir, ctx) : def.launch!(app, ctx);
}

/** Whether a command is on PATH. */
export function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A free TCP port on 127.0.0.1 (for servers that cannot bind port 0 and say which they got). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const forkserve = (appSpec: string, args: string[]): Launch => ({
  command: process.execPath,
  args: [CLI, appSpec, ...args, '--bind', '127.0.0.1:0', '--no-access-log'],
});

const forkserveFiles = (dir: string, args: string[]): Launch => ({
  command: process.execPath,
  args: [CLI, '--static', dir, ...args, '--bind', '127.0.0.1:0', '--no-access-log'],
});

const WSGI_APPS = path.join(ROOT, 'bench/apps.ts');
const HONO_APP = path.join(ROOT, 'bench/hono-app.mjs');
const EXPRESS_APP = path.join(ROOT, 'bench/express-app.mjs');
const BASELINES = path.join(ROOT, 'bench/baselines');
const nodeScript = (file: string, ...args: string[]): Launch => ({ command: process.execPath, args: [path.join(BASELINES, file), ...args] });

function nginxConf(tmp: string, port: number, filesDir?: string): string {
  const json = JSON.stringify({ message: 'Hello, World!', items: [1, 2, 3], ok: true });
  return `worker_processes 1;
daemon off;
pid ${tmp}/nginx.pid;
error_log ${tmp}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 10000000;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${tmp}/nginx-body;
  proxy_temp_path ${tmp}/nginx-proxy;
  fastcgi_temp_path ${tmp}/nginx-fastcgi;
  uwsgi_temp_path ${tmp}/nginx-uwsgi;
  scgi_temp_path ${tmp}/nginx-scgi;
  server {
    listen 127.0.0.1:${port};
    location = /hello { default_type text/plain; return 200 "Hello, World!"; }
    location = /json { default_type application/json; return 200 '${json}'; }
${filesDir ? `    location / { root ${filesDir}; }\n` : ''}  }
}
`;
}

/** The bench's server definitions; `workers` is the prefork worker count (one per server CPU). */
export function serverDefs(workers: number, floorBin: string | null, floorWhy: string): ServerDef[] {
  const keepAliveOnly = (why: string) => (_a: AppDef, m: Mode) => (m === 'keepalive' ? why : undefined);
  const helloOnly = (why: string) => (a: AppDef) => (a.id !== 'hello' ? why : undefined);
  return [
    // forkserve, WSGI apps (bench/apps.ts), the native HTTP core
    { id: 'iterative', label: 'forkserve iterative', kind: 'forkserve', family: 'wsgi', cannot: keepAliveOnly('iterative closes every connection (one client at a time)'),
      launch: (a) => forkserve(`${WSGI_APPS}:${a.id}`, ['--engine', 'iterative']) },
    { id: 'fork', label: 'forkserve fork', kind: 'forkserve', family: 'wsgi', launch: (a) => forkserve(`${WSGI_APPS}:${a.id}`, ['--engine', 'fork']) },
    { id: 'fork-accept', label: 'forkserve fork (--fork-after accept)', kind: 'forkserve', family: 'wsgi',
      launch: (a) => forkserve(`${WSGI_APPS}:${a.id}`, ['--engine', 'fork', '--fork-after', 'accept']) },
    { id: 'prefork', label: `forkserve prefork (${workers})`, kind: 'forkserve', family: 'wsgi', workers,
      launch: (a) => forkserve(`${WSGI_APPS}:${a.id}`, ['--engine', 'prefork', '--workers', String(workers)]),
      files: (dir) => forkserveFiles(dir, ['--engine', 'prefork', '--workers', String(workers)]) },
    { id: 'poll', label: 'forkserve poll', kind: 'forkserve', family: 'wsgi', launch: (a) => forkserve(`${WSGI_APPS}:${a.id}`, ['--engine', 'poll']),
      files: (dir) => forkserveFiles(dir, ['--engine', 'poll']) },
    { id: 'node-engine', label: 'forkserve node engine (WSGI adapter on node:http)', kind: 'forkserve', family: 'wsgi',
      launch: (a) => forkserve(`${WSGI_APPS}:${a.id}`, ['--engine', 'node']) },
    // forkserve, the Hono app (Fetch interface)
    { id: 'hono-poll', label: 'Hono on forkserve poll', kind: 'forkserve', family: 'hono', launch: () => forkserve(HONO_APP, ['--engine', 'poll']) },
    { id: 'hono-prefork', label: `Hono on forkserve prefork (${workers})`, kind: 'forkserve', family: 'hono', workers,
      launch: () => forkserve(HONO_APP, ['--engine', 'prefork', '--workers', String(workers)]) },
    // forkserve, the Express app (Node interface: node:http parses in the serving process)
    { id: 'express-poll', label: 'Express on forkserve poll', kind: 'forkserve', family: 'express', launch: () => forkserve(EXPRESS_APP, ['--engine', 'poll']) },
    { id: 'express-fork', label: 'Express on forkserve fork', kind: 'forkserve', family: 'express', launch: () => forkserve(EXPRESS_APP, ['--engine', 'fork']) },
    // anchors: what a user would run instead
    { id: 'node', label: 'node:http, plain handler', kind: 'anchor', family: 'native', launch: (a) => nodeScript('node-http.mjs', a.id) },
    { id: 'fastify', label: 'fastify', kind: 'anchor', family: 'native', launch: (a) => nodeScript('fastify.mjs', a.id) },
    { id: 'hono-node', label: 'Hono on @hono/node-server', kind: 'anchor', family: 'hono', launch: () => nodeScript('hono-node.mjs') },
    { id: 'express-node', label: 'Express on node:http', kind: 'anchor', family: 'express', launch: () => nodeScript('express-node.mjs') },
    { id: 'nginx', label: 'nginx, 1 worker (return 200)', kind: 'anchor', family: 'native',
      cannot: (a) => (!which('nginx') ? 'nginx is not installed (apt-get install nginx)' : a.id === 'echo' ? 'nginx has no echo without a module' : undefined),
      launch: (_a, { tmp, port }) => {
        const conf = path.join(tmp, 'nginx.conf');
        fs.writeFileSync(conf, nginxConf(tmp, port));
        return { command: 'nginx', args: ['-c', conf, '-e', path.join(tmp, 'nginx-error.log')], port };
      },
      files: (dir, { tmp, port }) => {
        const conf = path.join(tmp, 'nginx.conf');
        fs.writeFileSync(conf, nginxConf(tmp, port, dir));
        return { command: 'nginx', args: ['-c', conf, '-e', path.join(tmp, 'nginx-error.log')], port };
      } },
    // static files on node:http: the npm packages a Node user would pick
    { id: 'sirv', label: 'sirv on node:http', kind: 'anchor', family: 'native', files: (dir) => nodeScript('sirv.mjs', dir) },
    { id: 'serve-handler', label: 'serve-handler on node:http', kind: 'anchor', family: 'native', files: (dir) => nodeScript('serve-handler.mjs', dir) },
    { id: 'gunicorn', label: 'gunicorn, 1 sync worker', kind: 'anchor', family: 'native',
      cannot: () => (which('gunicorn') ? undefined : 'gunicorn is not installed (apt-get install gunicorn)'),
      launch: (a) => ({ command: 'gunicorn', args: ['-w', '1', '-k', 'sync', '-b', '127.0.0.1:0', '--chdir', BASELINES, '--log-level', 'info', `wsgi_app:${a.id}`] }) },
    { id: 'pyfork', label: 'Python forking server (LSBAWS part 3)', kind: 'anchor', family: 'native',
      cannot: (a, m) => (!which('python3') ? 'python3 is not installed' : a.id !== 'hello' ? 'it only sends "Hello, World!"' : m === 'keepalive' ? 'it closes every connection' : undefined),
      launch: () => ({ command: 'python3', args: [path.join(BASELINES, 'forking_server.py')] }) },
    { id: 'floor', label: 'C fork-per-connection floor', kind: 'anchor', family: 'native',
      cannot: (a, m) => (!floorBin ? `C floor unavailable: ${floorWhy}` : helloOnly('the C floor only sends its fixed "Hello, World!"')(a) ?? (m === 'keepalive' ? 'the C floor sends Connection: close' : undefined)),
      launch: () => ({ command: floorBin!, args: ['127.0.0.1', '0'] }) },
  ];
}
