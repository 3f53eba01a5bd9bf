// forkserve/observe on macOS: the addon's libproc functions (procTree,
// procDescriptors; native/posix/proc_darwin.cc) turned into the results of
// src/observe.ts. Only ever called when process.platform === 'darwin'; the
// addon is the one that src/native.ts loads.
//
// Not verified on a Mac by this project's CI (Linux): see docs/observe.md.

import { native } from '../native.js';
import { enosys } from './procfs.js';
import type { Descriptor, ProcessInfo, ProcessState } from '../observe.js';

interface RawProcess {
  pid: number;
  ppid: number;
  command: string;
  state: string;
  /** Raw wait status of a zombie (pbi_xstatus), else null. */
  exitStatus: number | null;
  startMs: number;
  depth: number;
  descriptorCount: number | null;
}

interface ProcBinding {
  procTree?: (pid: number) => RawProcess[];
  procDescriptors?: (pid: number) => Descriptor[];
}

let binding: ProcBinding | null = null;
/** Wait statuses of the zombies seen by the last darwinProcessTree() call. */
const zombieStatuses = new Map<number, number>();


function load(call: string): Required<ProcBinding> {
  binding ??= native as unknown as ProcBinding;
  if (!binding?.procTree || !binding.procDescriptors) throw enosys(call, "on macOS needs the addon's libproc functions (procTree, procDescriptors); rebuild it with `npm rebuild forkserve`");
  return binding as Required<ProcBinding>;
}

/** processTree() on macOS. `args` is empty (argv is not read). Throws ESRCH (syscall 'proc_pidinfo') for a missing pid. */
export function darwinProcessTree(pid: number): ProcessInfo[] {
  const raw = load('processTree').procTree(pid);
  zombieStatuses.clear();
  return raw.map((p) => {
    if (p.state === 'Z' && p.exitStatus !== null) zombieStatuses.set(p.pid, p.exitStatus);
    return {
      pid: p.pid,
      ppid: p.ppid,
      command: p.command,
      args: [],
      state: p.state as ProcessState,
      zombie: p.state === 'Z',
      startTime: new Date(Math.round(p.startMs)),
      depth: p.depth,
      descriptorCount: p.descriptorCount,
    };
  });
}

/** descriptors() on macOS. A zombie has none. Throws ESRCH / EPERM (syscall 'proc_pidinfo'). */
export function darwinDescriptors(pid: number): Descriptor[] {
  return load('descriptors').procDescriptors(pid);
}

/** The raw wait status of zombie `pid` as the last darwinProcessTree() saw it (pbi_xstatus), or null. */
export function darwinZombieStatus(pid: number): number | null {
  return zombieStatuses.get(pid) ?? null;
}
