/**
 * PEP 3333's environ as the app sees it: header fields become HTTP_* keys
 * (repeated fields joined with ", "), and a field whose name holds "_" is
 * dropped, as gunicorn drops it: `Content_Length` must never pose as
 * CONTENT_LENGTH, nor `Transfer_Encoding` as HTTP_TRANSFER_ENCODING.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, rawRequest, startServer, type RunningServer } from './helpers/server.js';

for (const engine of ['poll', 'fork', 'iterative']) {
  describe(`WSGI environ on the ${engine} engine`, () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await startServer(`${path.join(FIXTURES, 'apps.ts')}:cgiKeys`, ['--engine', engine]);
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('maps dash-named fields to CGI keys and drops fields named with "_"', async () => {
      const raw = await rawRequest(server.port, 'POST / HTTP/1.1\r\nHost: t\r\nX-Trace-Id: a\r\nX-Trace-Id: b\r\nContent-Type: text/plain\r\n'
        + 'Content-Length: 5\r\nContent_Length: 999\r\nTransfer_Encoding: chunked\r\nX_Forwarded_For: 6.6.6.6\r\nConnection: close\r\n\r\nhello');
      const env = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expect(env).toEqual({
        CONTENT_LENGTH: '5', CONTENT_TYPE: 'text/plain', HTTP_CONNECTION: 'close', HTTP_HOST: 't', HTTP_X_TRACE_ID: 'a, b', PATH_INFO: '/', QUERY_STRING: '',
      });
    });

    it('gives one CONTENT_LENGTH for a list of equal values, never "5, 5" (RFC 9112 §6.3)', async () => {
      for (const fields of ['Content-Length: 5, 5', 'Content-Length: 5\r\nContent-Length: 5']) {
        const raw = await rawRequest(server.port, `POST / HTTP/1.1\r\nHost: t\r\n${fields}\r\nConnection: close\r\n\r\nhello`);
        expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).CONTENT_LENGTH).toBe('5');
      }
    });

    it('answers a HEAD request it cannot parse with an error head and no body (RFC 9110 §9.3.2)', async () => {
      const head = await rawRequest(server.port, 'HEAD / HTTP/1.1\r\nHost: t\r\nBad Field\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(head.endsWith('\r\n\r\n')).toBe(true);
      const get = await rawRequest(server.port, 'GET / HTTP/1.1\r\nHost: t\r\nBad Field\r\n\r\n');
      expect(get.endsWith('\r\n\r\n400 Bad Request\n')).toBe(true);
    });

    it.each([
      ['http://host?x=1', '/', 'x=1'],
      ['http://host:1234?x=1', '/', 'x=1'],
      ['http://host', '/', ''],
      ['http://host/a/b?c=d', '/a/b', 'c=d'],
    ])('absolute-form %s: PATH_INFO %s, QUERY_STRING %s (RFC 9112 §3.2.2)', async (target, pathInfo, query) => {
      const raw = await rawRequest(server.port, `GET ${target} HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n`);
      const env = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
      expect([env.PATH_INFO, env.QUERY_STRING]).toEqual([pathInfo, query]);
    });

    it.each(['http:///x', 'http://?q=1', 'http://', 'https:///'])('absolute-form with an empty authority, %s, is 400 (RFC 9110 §4.2.1)', async (target) => {
      const raw = await rawRequest(server.port, `GET ${target} HTTP/1.1\r\nHost: host\r\nConnection: close\r\n\r\n`);
      expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
    });
  });
}
