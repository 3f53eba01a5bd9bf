// The iterative engine over many connections: its loop (a blocking native
// accept, then the app) must still let Node's event loop turn, or what Node
// runs from there (Node-API finalizers among them) never runs and memory
// grows with every connection (it reached 1.4 GB in one 5 s benchmark cell).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, startServer, type RunningServer } from './helpers/server.js';

const run = promisify(execFile);
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** `ab -n N -c 4` (apache2-utils): returns the completed and failed counts. */
async function ab(url: string, n: number) {
  const { stdout } = await run('ab', ['-q', '-n', String(n), '-c', '4', url], { timeout: 60_000 });
  return { complete: Number(/Complete requests:\s+(\d+)/.exec(stdout)![1]), failed: Number(/Failed requests:\s+(\d+)/.exec(stdout)![1]) };
}

describe('iterative engine', () => {
  it('serves 25,000 connections with its memory bounded', async () => {
    server = await startServer(`${ROOT}/examples/hello.ts`, ['--engine', 'iterative', '--no-access-log']);
    expect(await ab(`${server.url}/`, 5000)).toEqual({ complete: 5000, failed: 0 });
    const warm = rssMiB(server.pid);
    expect(await ab(`${server.url}/`, 20_000)).toEqual({ complete: 20_000, failed: 0 });
    // Before the fix: about 17 KB more per connection, 330 MiB here.
    expect(rssMiB(server.pid) - warm).toBeLessThan(48);
  }, 90_000);
});
