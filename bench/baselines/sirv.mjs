// Static files on node:http with sirv, the way a Node user serves a
// directory without nginx:   node bench/baselines/sirv.mjs DIR
// Prints "Listening at: http://127.0.0.1:PORT" on stderr once listening.
import http from 'node:http';
import sirv from 'sirv';

const files = sirv(process.argv[2], { etag: true, dev: false });
const server = http.createServer((req, res) => files(req, res, () => { res.statusCode = 404; res.end('Not found'); }));
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`Listening at: http://127.0.0.1:${server.address().port} (${process.pid})\n`);
});
