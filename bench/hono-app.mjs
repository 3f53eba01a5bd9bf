// The bench's apps as one Hono app, routed by path (/hello, /json, /echo):
// forkserve serves it as a Fetch app, and baselines/hono-node.mjs serves
// the very same module with @hono/node-server.
import { Hono } from 'hono';

const HELLO = 'Hello, World!';
const app = new Hono();
app.get('/hello', (c) => c.text(HELLO));
app.get('/json', (c) => c.json({ message: HELLO, items: [1, 2, 3], ok: true }));
app.post('/echo', async (c) => new Response(await c.req.arrayBuffer(), {
  headers: { 'Content-Type': c.req.header('content-type') ?? 'application/octet-stream' },
}));
export default app;
