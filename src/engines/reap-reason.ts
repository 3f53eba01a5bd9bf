/**
 * Why a worker or child ended, said in its reap line, so that a kill is
 * never ambiguous (gunicorn's "Worker was sent SIGKILL! Perhaps out of
 * memory?" is most often its own timeout kill): the master's --timeout
 * kill, the kernel's OOM killer (the cgroup's oom_kill counter, cgroup v2
 * memory.events or v1 memory.oom_control), or the exit status or signal as
 * waitpid(2) gave it.
 */
import fs from 'node:fs';
import { describeStatus } from '../log.js';
import { native, type RawWaitStatus, type ReapReason } from '../native.js';

/**
 * The OOM kills counted in this process's memory cgroup so far, or
 * undefined where none can be read (no memory controller, macOS).
 */
export function oomKillCount(): number | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const files: string[] = [];
  for (const line of lines) {
    const [, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (controllers === '') files.push(`/sys/fs/cgroup${path}/memory.events`); // v2
    else if (controllers.split(',').includes('memory')) files.push(`/sys/fs/cgroup/memory${path}/memory.oom_control`); // v1
  }
  for (const file of files) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(fs.readFileSync(file, 'utf8'));
      if (m) return Number(m[1]);
    } catch {
      // not this hierarchy
    }
  }
  return undefined;
}

/** The exit status of a fork child the request watchdog ended (native/engine/watchdog.h, timeout(1)'s). */
export const WATCHDOG_EXIT = 124;

/** Tells reaped processes' reasons apart, and counts each reap by reason for /metrics; one per master. */
export class ReapReasons {
  private readonly timedOut = new Set<number>();
  private readonly recycled = new Set<number>();
  private oomKills = oomKillCount();

  /** The master is about to SIGKILL pid for its --timeout (`seconds` without a heartbeat). */
  killedForTimeout(pid: number): void {
    this.timedOut.add(pid);
  }

  /** The master asked pid to finish and exit for --max-worker-rss. */
  recycledForMemory(pid: number): void {
    this.recycled.add(pid);
  }

  /**
   * Records that pid was reaped: counts it by reason (forkserve_reaps_total
   * in /metrics, native/engine/counters.h) and returns the reason and how it
   * ended, said with it: "killed by SIGKILL: the master's --timeout kill (no
   * heartbeat for 30 s)", "killed by SIGKILL: the kernel's OOM killer
   * (memory cgroup oom_kill 3)", "exited 124: the request watchdog", else
   * describeStatus's "exited 1", "killed by SIGSEGV (core dumped)".
   */
  reaped(st: RawWaitStatus, timeoutSeconds: number): { reason: ReapReason; how: string } {
    const out = this.classify(st, timeoutSeconds);
    native.countReap(out.reason);
    return out;
  }

  private classify(st: RawWaitStatus, timeoutSeconds: number): { reason: ReapReason; how: string } {
    const how = describeStatus(st);
    if (this.timedOut.delete(st.pid)) return { reason: 'timeout', how: `${how}: the master's --timeout kill (no heartbeat for ${timeoutSeconds} s)` };
    if (this.recycled.delete(st.pid)) return { reason: 'memory', how: `${how}: replaced for --max-worker-rss` };
    if (st.exited) {
      if (st.exitCode === 0) return { reason: 'exited', how };
      if (st.exitCode === WATCHDOG_EXIT) return { reason: 'timeout', how: `${how}: the request watchdog ended it (--timeout ${timeoutSeconds} s)` };
      return { reason: 'failed', how };
    }
    if (st.signaled && st.signal === 'SIGKILL') {
      const now = oomKillCount();
      if (now !== undefined && this.oomKills !== undefined && now > this.oomKills) {
        this.oomKills = now;
        return { reason: 'oom', how: `${how}: the kernel's OOM killer (memory cgroup oom_kill ${now})` };
      }
    }
    return { reason: 'signal', how };
  }
}
