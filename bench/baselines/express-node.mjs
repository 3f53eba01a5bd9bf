// The same Express app as forkserve's bench serves (bench/express-app.mjs),
// with app.listen(): Express on plain node:http.
import app from '../express-app.mjs';

const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stderr.write(`Listening at: http://127.0.0.1:${server.address().port} (${process.pid})\n`);
});
process.on('SIGTERM', () => process.exit(0));
