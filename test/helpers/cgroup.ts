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

const MEMORY_ROOT = '/sys/fs/cgroup/memory';

/** True if this machine has a writable cgroup v1 memory controller. */
export const memoryControllerAvailable = (): boolean => fs.existsSync(`${MEMORY_ROOT}/cgroup.procs`) && fs.existsSync(`${MEMORY_ROOT}/memory.oom_control`);

/**
 * A cgroup v1 memory group limited to `limitMiB`: `enter` is a command
 * prefix (for startServer) that moves the shell into it and execs the
 * command, so the server and everything it forks are charged to it.
 */
export function memoryGroup(limitMiB: number, prefix = 'forkserve-test-'): { enter: string[]; oomKills(): number; remove(): Promise<boolean> } {
  const dir = fs.mkdtempSync(`${MEMORY_ROOT}/${prefix}`);
  fs.writeFileSync(`${dir}/memory.limit_in_bytes`, String(limitMiB << 20));
  return {
    enter: ['sh', '-c', `echo $$ > ${dir}/cgroup.procs && exec "$@"`, 'sh'],
    oomKills: () => Number(/^oom_kill (\d+)$/m.exec(fs.readFileSync(`${dir}/memory.oom_control`, 'utf8'))?.[1] ?? 0),
    remove: () => waitFor(() => {
      try {
        fs.rmdirSync(dir);
        return true;
      } catch {
        return false;
      }
    }, 10_000),
  };
}
