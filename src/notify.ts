/**
 * sd_notify(3): the service manager's readiness protocol. When systemd
 * (or `systemd-socket-activate`, or a test) sets NOTIFY_SOCKET, forkserve
 * sends `READY=1` once it serves and `STOPPING=1` once it stops, one
 * datagram each on that AF_UNIX socket (a path, or "@name" in the abstract
 * namespace). Without NOTIFY_SOCKET it does nothing.
 */
import { AF_UNIX, SOCK_DGRAM, close, sendto, socket } from './posix.js';

/**
 * Sends `state` ("READY=1", "STOPPING=1", "STATUS=...") to NOTIFY_SOCKET.
 * Returns false, with the reason in `onError`, when it cannot be sent (a
 * manager that went away must not stop the server); false also when
 * NOTIFY_SOCKET is unset.
 */
export function sdNotify(state: string, onError: (message: string) => void = () => {}, env: NodeJS.ProcessEnv = process.env): boolean {
  const path = env.NOTIFY_SOCKET;
  if (!path) return false;
  let fd = -1;
  try {
    fd = socket(AF_UNIX, SOCK_DGRAM);
    sendto(fd, Buffer.from(state), path);
    return true;
  } catch (err) {
    onError(`sd_notify ${state.split('\n')[0]} to NOTIFY_SOCKET=${path}: ${(err as Error).message}`);
    return false;
  } finally {
    if (fd >= 0) close(fd);
  }
}
