// A raw TCP client that holds its connection open: for tests of slow clients.
import net from 'node:net';

/** Opens a connection to 127.0.0.1:port, writes `first`, and collects what arrives; `closed` tells when the server closed. */
export function connection(port: number, first: string) {
  const sock = net.connect(port, '127.0.0.1');
  const state = { data: '', closed: false };
  sock.on('connect', () => sock.write(first));
  sock.on('data', (d) => (state.data += d.toString('latin1')));
  sock.on('close', () => (state.closed = true));
  sock.on('error', () => {});
  return { sock, state };
}
