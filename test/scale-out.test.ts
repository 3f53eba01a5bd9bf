// Scale out: three forkserve instances on 127.0.0.2, 127.0.0.3 and
// 127.0.0.4 behind HAProxy with health checks, and a rolling restart
// (SIGTERM one, start its replacement, wait until HAProxy sees it healthy,
// next) while wrk runs through HAProxy: no failed request. The requests each
// instance served and wrk's p99 are printed (docs/deploy.md quotes a run).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, FIXTURES, ROOT, waitFor } from './helpers/server.js';

const linux = process.platform === 'linux';
const have = (cmd: string) => ['/usr/bin', '/usr/sbin'].some((d) => fs.existsSync(path.join(d, cmd)));
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function freePort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Instance { host: string; proc: ChildProcess; stderr(): string; exited: Promise<number | string | null> }

/** One forkserve instance on host:port, its access log kept; resolves once it listens. */
async function startInstance(host: string, port: number): Promise<Instance> {
  const proc = spawn(process.execPath, [CLI, `${FIXTURES}/apps.ts:echo`, '-k', 'prefork', '--workers', '1', '--bind', `${host}:${port}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | string | null>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? sig)));
  const listening = await waitFor(() => err.includes(`Listening at: http://${host}:${port}`) || proc.exitCode !== null, 30_000);
  expect(listening && proc.exitCode === null, err).toBe(true);
  return { host, proc, stderr: () => err, exited };
}

const served = (i: Instance) => (i.stderr().match(/"GET \/load /g) ?? []).length;
const healthChecks = (i: Instance) => (i.stderr().match(/"GET \/health /g) ?? []).length;

describe.skipIf(!linux || !have('haproxy') || !have('wrk'))('three instances behind HAProxy', () => {
  it('a rolling restart under wrk fails no request', async () => {
    const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const port = await freePort('127.0.0.2');
    const front = await freePort('127.0.0.1');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forkserve-scale-'));
    const conf = path.join(dir, 'haproxy.cfg');
    // Health checks every 100 ms; a request that finds its server gone (connection refused,
    // or closed before answering) is retried on another: what a rolling restart relies on.
    fs.writeFileSync(conf, `defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch 1
  retry-on all-retryable-errors
frontend web
  bind 127.0.0.1:${front}
  default_backend app
backend app
  balance roundrobin
  option httpchk GET /health
${hosts.map((h, i) => `  server s${i + 2} ${h}:${port} check inter 100ms fall 1 rise 2`).join('\n')}
`);
    const instances = await Promise.all(hosts.map((h) => startInstance(h, port)));
    const haproxy = spawn('haproxy', ['-f', conf, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    procs.push(haproxy);
    let haproxyErr = '';
    haproxy.stderr!.on('data', (d) => (haproxyErr += d));
    try {
      // Every instance healthy (rise 2) before the load starts.
      expect(await waitFor(() => instances.every((i) => healthChecks(i) >= 2), 15_000), haproxyErr).toBe(true);
      const wrk = spawn('wrk', ['-t1', '-c16', '-d30s', '--timeout', '5s', '--latency', `http://127.0.0.1:${front}/load`], { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(wrk);
      let out = '';
      wrk.stdout!.on('data', (d) => (out += d));
      const wrkEnded = new Promise<number>((resolve) => wrk.on('exit', () => resolve(Date.now())));
      // Each serves a share of the load before the roll begins.
      expect(await waitFor(() => instances.every((i) => served(i) >= 1000), 15_000)).toBe(true);

      const retired: Instance[] = [];
      for (let k = 0; k < instances.length; k++) {
        const old = instances[k];
        old.proc.kill('SIGTERM');
        expect(await old.exited).toBe(0);
        retired.push(old);
        const fresh = await startInstance(old.host, port);
        instances[k] = fresh;
        // Back in HAProxy's rotation: two health checks passed, and it serves load.
        expect(await waitFor(() => healthChecks(fresh) >= 2 && served(fresh) > 0, 20_000), haproxyErr).toBe(true);
      }
      const rolledAt = Date.now();
      const endedAt = await wrkEnded;
      expect(rolledAt).toBeLessThan(endedAt); // the whole roll ran under load

      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? -1);
      const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const p99 = /\n\s+99%\s+(\S+)/.exec(out)?.[1];
      const perInstance = [...retired, ...instances].map((i, n) => `${i.host} ${n < 3 ? 'before' : 'after'}: ${served(i)}`);
      console.log(`rolling restart under wrk: ${requests} requests, p99 ${p99}; served per instance: ${perInstance.join(', ')}`);
      expect(requests).toBeGreaterThan(1000);
      expect({ socketErrors: errors ? errors.slice(1).map(Number) : [0, 0, 0, 0], non2xx }).toEqual({ socketErrors: [0, 0, 0, 0], non2xx: 0 });
      expect(p99).toBeDefined();
    } finally {
      haproxy.kill('SIGTERM');
      for (const i of instances) i.proc.kill('SIGTERM');
      await Promise.all(instances.map((i) => i.exited));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
