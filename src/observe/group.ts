// Grouping of descriptors by identity, shared by sharedDescriptors() and renderPs().

import type { Descriptor, DescriptorRef } from '../observe.js';

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
