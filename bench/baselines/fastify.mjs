// fastify serving the bench's apps: node bench/baselines/fastify.mjs APP
import Fastify from 'fastify';

const HELLO = 'Hello, World!';
const app = Fastify({ logger: false });
const which = process.argv[2] ?? 'hello';
if (which === 'hello') app.get('/hello', (req, reply) => reply.type('text/plain').send(HELLO));
else if (which === 'json') app.get('/json', () => ({ message: HELLO, items: [1, 2, 3], ok: true }));
else if (which === 'echo') {
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1 << 30 }, (req, body, done) => done(null, body));
  app.post('/echo', (req, reply) => reply.type(req.headers['content-type'] ?? 'application/octet-stream').send(req.body));
} else throw new Error(`unknown app ${which}`);
const address = await app.listen({ host: '127.0.0.1', port: Number(process.argv[3] ?? 0) });
process.stderr.write(`Listening at: ${address} (${process.pid})\n`);
process.on('SIGTERM', () => process.exit(0));
