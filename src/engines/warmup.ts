/**
 * Warms the parent before it forks. V8 compiles functions on first call,
 * and Node loads parts of the Fetch API (undici) on first use; a child that
 * does either pays for it on every connection (about 45 ms for the first
 * `new Response()` measured here), because nothing it compiles outlives it.
 * So the parent runs one request through forkserve's own pipeline (native
 * reader, app adapter, native writer) over a socketpair, with built-in apps
 * of both interfaces, never the user's app. Children inherit the compiled
 * code copy-on-write.
 */
import { toHandler, type App } from '../apps/index.js';
import { close, read, sendall, socketpair } from '../posix.js';
import { serveConnection } from './connection.js';
import type { Logger } from '../log.js';

const silent: Logger = { info() {}, error() {}, access() {} };

const builtins: Array<[App, 'wsgi' | 'fetch']> = [
  [(_environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return 'ok';
  }, 'wsgi'],
  [{
    async fetch(request: Request) {
      await request.arrayBuffer();
      return new Response('ok', { headers: { 'content-type': 'text/plain' } });
    },
  }, 'fetch'],
];

export async function warmUp(): Promise<void> {
  for (const [app, iface] of builtins) {
    const [client, server] = socketpair();
    try {
      sendall(client, Buffer.from('POST /warmup?x=1 HTTP/1.1\r\nHost: warmup\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi'));
      await serveConnection(server, {
        handler: toHandler(app, iface), log: silent, serverName: 'warmup', serverPort: 0,
        remoteAddress: '', remotePort: 0, limits: {}, timeoutSeconds: 0,
      });
      const buf = Buffer.alloc(4096);
      while (read(client, buf) > 0);
    } finally {
      close(client);
    }
  }
}
