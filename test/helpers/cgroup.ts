/**
 * A cgroup v1 pids controller to make fork(2) fail with EAGAIN for real.
 * RLIMIT_NPROC does not apply to root (these tests run as root), but a pids
 * limit does, counting threads and unreaped zombies alike.
 */
import fs from 'node:fs';
import { waitFor } from './server.js';

const ROOT = '/sys/fs/cgroup/pids';

export interface PidsGroup {
  /** Tasks (threads included) in the group now. */
  current(): number;
  /** Sets pids.max ('max' for no limit). */
  limit(max: number | 'max'): void;
  /** Moves pid back to the root group and removes the group (bounded retry on EBUSY); returns true once removed. */
  release(pid: number): Promise<boolean>;
}

/** True if this machine has a writable pids controller. */
export const pidsControllerAvailable = (): boolean => fs.existsSync(`${ROOT}/cgroup.procs`);

/** Creates a pids group and moves pid (with all its threads) into it. */
export function pidsGroup(pid: number, prefix = 'forkserve-test-'): PidsGroup {
  const dir = fs.mkdtempSync(`${ROOT}/${prefix}`);
  fs.writeFileSync(`${dir}/cgroup.procs`, String(pid));
  return {
    current: () => Number(fs.readFileSync(`${dir}/pids.current`, 'utf8')),
    limit: (max) => fs.writeFileSync(`${dir}/pids.max`, String(max)),
    async release(p: number) {
      try {
        fs.writeFileSync(`${ROOT}/cgroup.procs`, String(p));
      } catch {
        // the process exited meanwhile
      }
      // Children forked inside stay until they exit, and the kernel releases
      // exited tasks a little later (rmdir says EBUSY meanwhile).
      return waitFor(() => {
        try {
          fs.rmdirSync(dir);
          return true;
        } catch {
          return false;
        }
      }, 10_000);
    },
  };
}
