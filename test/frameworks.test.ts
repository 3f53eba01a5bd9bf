/**
 * Real npm frameworks on every engine: Express and Koa (Node request
 * listeners, parsed by node:http in the serving process), Hono, itty-router
 * and h3 (Fetch apps, parsed by forkserve's native core). Each app has the
 * same four routes: a route parameter, a JSON body echoed back, a streamed
 * body, and an error turned into JSON by the framework's own error handler.
 * The client is curl, one connection for all four requests.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, startServer, type RunningServer } from './helpers/server.js';
import { ENGINES } from '../src/serve.js';

const run = promisify(execFile);
const FRAMEWORKS = ['express', 'koa', 'hono', 'itty', 'h3'] as const;
const INTERFACE: Record<(typeof FRAMEWORKS)[number], string> = { express: 'node', koa: 'node', hono: 'fetch', itty: 'fetch', h3: 'fetch' };

interface Answer { status: number; type: string; body: string; connections: number }

/** Four requests with one curl (it reuses its connection where the server keeps it). */
async function curlAll(base: string): Promise<Answer[]> {
  const format = '\n@@%{http_code} %{num_connects} %{content_type}@@\n';
  const args = [
    '-s', '--max-time', '10',
    '-w', format, `${base}/hello/ada`,
    '--next', '-s', '--max-time', '10', '-w', format, '-H', 'Content-Type: application/json', '--data', '{"n":42,"s":"ünï"}', `${base}/echo`,
    '--next', '-s', '--max-time', '10', '-w', format, `${base}/stream`,
    '--next', '-s', '--max-time', '10', '-w', format, `${base}/boom`,
  ];
  const { stdout } = await run('curl', args);
  const parts = stdout.split(/\n@@(\d+) (\d+) ([^@\n]*)@@\n/);
  const answers: Answer[] = [];
  for (let i = 0; i + 3 < parts.length; i += 4) {
    answers.push({ body: parts[i], status: Number(parts[i + 1]), connections: Number(parts[i + 2]), type: parts[i + 3] });
  }
  return answers;
}

for (const framework of FRAMEWORKS) {
  describe(`${framework} (interface ${INTERFACE[framework]})`, () => {
    for (const engine of ENGINES) {
      describe(`on the ${engine} engine`, () => {
        let server: RunningServer;
        beforeAll(async () => {
          server = await startServer(path.join(FIXTURES, 'frameworks', `${framework}.ts`), ['--engine', engine, '--workers', '1']);
        });
        afterAll(async () => {
          await server?.stop();
        });

        it('routes, echoes JSON, streams, and runs its error handler', async () => {
          const [hello, echo, stream, boom] = await curlAll(server.url);
          expect(hello).toMatchObject({ status: 200, body: `Hello, ada! (${framework})` });
          expect(hello.type).toMatch(/^text\/plain/);
          expect(echo.status).toBe(200);
          expect(echo.type).toMatch(/^application\/json/);
          expect(JSON.parse(echo.body)).toEqual({ framework, received: { n: 42, s: 'ünï' } });
          expect(stream).toMatchObject({ status: 200, body: 'one\ntwo\nthree\n' });
          expect(boom.status).toBe(500);
          expect(JSON.parse(boom.body)).toEqual({ framework, error: 'boom' });
          // One connection for all four, except on the iterative engine (one response per connection).
          const reused = [echo, stream, boom].map((a) => a.connections === 0);
          expect(reused).toEqual(engine === 'iterative' ? [false, false, false] : [true, true, true]);
          expect(server.stderr()).toContain(`Using engine: ${engine}`);
        });
      });
    }
  });
}
