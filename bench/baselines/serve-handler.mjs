// Static files on node:http with serve-handler (the core of `npx serve`):
//   node bench/baselines/serve-handler.mjs DIR
// Prints "Listening at: http://127.0.0.1:PORT" on stderr once listening.
import http from 'node:http';
import handler from 'serve-handler';

const options = { public: process.argv[2], etag: true };
const server = http.createServer((req, res) => handler(req, res, options));
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`Listening at: http://127.0.0.1:${server.address().port} (${process.pid})\n`);
});
