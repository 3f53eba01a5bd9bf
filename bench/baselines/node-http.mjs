// The baseline a user would pick instead: a plain node:http handler, no
// framework, no forkserve. Serves the bench's three apps by path:
//   node bench/baselines/node-http.mjs APP   (APP: hello | json | echo)
// and prints "Listening at: http://127.0.0.1:PORT" on stderr once listening.
import http from 'node:http';

const HELLO = 'Hello, World!';
const apps = {
  hello: (req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(HELLO);
  },
  json: (req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: HELLO, items: [1, 2, 3], ok: true }));
  },
  echo: (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': req.headers['content-type'] ?? 'application/octet-stream' });
      res.end(Buffer.concat(chunks));
    });
  },
};
const app = apps[process.argv[2] ?? 'hello'];
if (!app) throw new Error(`unknown app ${process.argv[2]}`);
const server = http.createServer(app);
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  process.stderr.write(`Listening at: http://127.0.0.1:${server.address().port} (${process.pid})\n`);
});
process.on('SIGTERM', () => process.exit(0));
