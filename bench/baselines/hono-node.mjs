// The same Hono app as forkserve's bench serves (bench/hono-app.mjs), on
// @hono/node-server, the adapter a Hono user on Node picks.
import { serve } from '@hono/node-server';
import app from '../hono-app.mjs';

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.argv[2] ?? 0) }, (info) => {
  process.stderr.write(`Listening at: http://127.0.0.1:${info.port} (${process.pid})\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
