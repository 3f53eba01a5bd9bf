// Grouping of descriptors by identity, shared by sharedDescriptors() and renderPs().

import type { Descriptor, DescriptorRef } from '../observe.js';
import { native } from '../native.js';

/**
 * Groups descriptors of several processes by `identity` ("device:inode") and
 * keeps the groups with more than one (pid, fd). `anon` descriptors are left
 * out: most anon_inode files share one kernel inode whatever they are.
 * Refs keep the order of `lists`, then the order within each list.
 */
export function groupByIdentity(lists: Iterable<[pid: number, descriptors: Descriptor[]]>): Map<string, DescriptorRef[]> {
  const groups = new Map<string, DescriptorRef[]>();
  for (const [pid, list] of lists) {
    for (const d of list) {
      if (d.type === 'anon') continue;
      let refs = groups.get(d.identity);
      if (!refs) groups.set(d.identity, (refs = []));
      refs.push({ pid, fd: d.fd });
    }
  }
  for (const [key, refs] of groups) if (refs.length < 2) groups.delete(key);
  return groups;
}

/**
 * What the views (`forkserve ps`, the status page) mark as shared: one open
 * file description held by two or more processes, the kernel's own notion
 * of a shared descriptor (fork(2) and SCM_RIGHTS share it; two open(2)s of
 * one file do not). Descriptors of one identity are told apart with
 * kcmp(2) KCMP_FILE where it answers (Linux, with ptrace access), so a
 * pipe's two ends in one process are not shared, and one group held by a
 * single process is dropped. Unless `all`, the standard streams (fds 0, 1
 * and 2), /dev/null and self-pipes (a pipe each of whose holders also
 * holds its other end: an event loop's wake-up pipe, copied by fork) are
 * left out: every process of a tree inherits them and they teach nothing. A second description of one identity is keyed
 * `IDENTITY#2`, and so on. Refs keep the order of `lists`.
 */
export function sharedAcrossProcesses(
  lists: Iterable<[pid: number, descriptors: Descriptor[]]>,
  opts: { all?: boolean; sameOpenFile?: (a: DescriptorRef, b: DescriptorRef) => boolean | null } = {},
): Map<string, DescriptorRef[]> {
  const same = opts.sameOpenFile ?? kernelSameOpenFile;
  const kept: Array<[number, Descriptor[]]> = [];
  for (const [pid, list] of lists) kept.push([pid, opts.all ? list : list.filter((d) => d.fd > 2 && d.target !== '/dev/null')]);
  const out = new Map<string, DescriptorRef[]>();
  const typeOf = new Map<string, string>();
  for (const [, list] of kept) for (const d of list) typeOf.set(d.identity, d.type);
  for (const [identity, refs] of groupByIdentity(kept)) {
    const pids = new Set(refs.map((r) => r.pid));
    if (pids.size < 2) continue;
    // A self-pipe: every holder has both ends (two descriptors of the inode).
    if (!opts.all && typeOf.get(identity) === 'pipe' && [...pids].every((pid) => refs.filter((r) => r.pid === pid).length >= 2)) continue;
    // Split into open file descriptions: each ref joins the first cluster
    // whose representative kcmp says is the same; unknown counts as same.
    const clusters: DescriptorRef[][] = [];
    for (const ref of refs) {
      const home = clusters.find((c) => same(c[0]!, ref) !== false);
      if (home) home.push(ref);
      else clusters.push([ref]);
    }
    let k = 0;
    for (const c of clusters) {
      if (new Set(c.map((r) => r.pid)).size < 2) continue;
      out.set(k === 0 ? identity : `${identity}#${k + 1}`, c);
      k++;
    }
  }
  return out;
}

/** kcmp(2) through the binding: null where it cannot tell. */
function kernelSameOpenFile(a: DescriptorRef, b: DescriptorRef): boolean | null {
  if (a.pid === b.pid && a.fd === b.fd) return true;
  return (native.sameOpenFile as (p1: number, f1: number, p2: number, f2: number) => boolean | null)(a.pid, a.fd, b.pid, b.fd);
}
