// The bench's apps as one Express app, routed by path (/hello, /json,
// /echo): forkserve serves it as a Node request listener, and
// baselines/express-node.mjs serves it with app.listen() (node:http).
import express from 'express';

const HELLO = 'Hello, World!';
const app = express();
app.set('etag', false);
app.get('/hello', (req, res) => res.type('text/plain').send(HELLO));
app.get('/json', (req, res) => res.json({ message: HELLO, items: [1, 2, 3], ok: true }));
app.post('/echo', express.raw({ type: () => true, limit: '1gb' }), (req, res) => {
  res.type(req.headers['content-type'] ?? 'application/octet-stream').send(req.body);
});
export default app;
