/**
 * What a Fetch app can observe stays standard while forkserve builds its
 * Request lazily and its Responses lightweight (src/apps/request.ts,
 * src/apps/response.ts): instanceof, members, bodies, headers set after
 * construction, errors thrown where the Fetch standard throws them. And
 * each kind of Response body reaches curl as it would from node:http. On
 * the poll engine (synchronous answers from native code) and the fork
 * engine (the blocking connection).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, rawRequest, startServer, type RunningServer } from './helpers/server.js';

const run = promisify(execFile);
const curl = async (url: string, ...args: string[]) => (await run('curl', ['-s', '--max-time', '10', ...args, url])).stdout;

for (const engine of ['poll', 'fork']) {
  describe(`Fetch adapter on the ${engine} engine`, () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(path.join(FIXTURES, 'fetch-standard.ts'), ['--engine', engine]);
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('hands the app a standard Request', async () => {
      const seen = JSON.parse(await curl(`${server.url}/inspect?q=1`, '-A', 'probe/1'));
      expect(seen).toEqual({
        isRequest: true, tag: '[object Request]', method: 'GET', url: `http://127.0.0.1:${server.port}/inspect?q=1`,
        ua: 'probe/1', signal: true, bodyNull: true, cloneIsRequest: true,
      });
      expect(JSON.parse(await curl(`${server.url}/body`, '--json', '{"a":[1,2]}'))).toEqual({ got: { a: [1, 2] }, used: true });
    });

    it('shows one Content-Length for a list of equal values, never "4, 4"', async () => {
      const raw = await rawRequest(server.port, 'POST /length HTTP/1.1\r\nHost: t\r\nContent-Length: 4, 4\r\nConnection: close\r\n\r\nbody');
      expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ length: '4', text: 'body' });
    });

    it('keeps Response standard inside the app', async () => {
      expect(JSON.parse(await curl(`${server.url}/responses`))).toEqual({
        instance: true, json: true, status: 201, ok: true, tag: '[object Response]', text: 'x', used: false,
        range: 'RangeError', nullBody: 'TypeError', name: 'Response', error: 'error',
      });
    });

    it.each([
      ['/string', 200, 'text/plain;charset=UTF-8', 'plain string'],
      ['/bytes', 200, 'application/octet-stream', 'some bytes'],
      ['/arraybuffer', 200, '', 'an arraybuffer'],
      ['/stream', 200, '', 'one two'],
      ['/empty', 204, '', ''],
    ])('sends %s as node:http would (status, type, body)', async (route, status, type, body) => {
      const out = await curl(`${server.url}${route}`, '-w', '\n%{http_code} %{content_type}');
      const nl = out.lastIndexOf('\n');
      expect(out.slice(0, nl)).toBe(body);
      expect(out.slice(nl + 1)).toBe(`${status} ${type}`);
    });

    it('sends headers set after construction, every Set-Cookie, and the status text', async () => {
      const late = await curl(`${server.url}/late-header`, '-i');
      expect(late).toMatch(/^x-early: 1\r$/mi);
      expect(late).toMatch(/^x-late: 2\r$/mi);
      const cookies = await curl(`${server.url}/cookies`, '-i');
      expect(cookies).toMatch(/^HTTP\/1\.1 200 Fine\r$/m);
      expect(cookies.match(/^set-cookie: .*$/gim)?.map((l) => l.trim())).toEqual(['set-cookie: a=1', 'set-cookie: b=2']);
    });
  });
}
