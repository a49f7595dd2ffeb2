// Which repository a VM's backup goes to. Without spreading: the listed order, the first that
// answers wins (failover). With spreading: rendezvous hashing of the VM's key over the
// targets, so each VM has a stable primary (its chain of backups stays on one target run after
// run), adding a target moves only the VMs that now rank it first, and the rest of the ranking
// is the VM's own failover order.

import { createHash } from 'node:crypto';

export function targetOrder<T extends { readonly location: string }>(vmKey: string, targets: readonly T[], spread: boolean): T[] {
  if (!spread) return [...targets];
  const score = (t: T): Buffer => createHash('sha256').update(`${vmKey}\0${t.location}`).digest();
  return [...targets].sort((a, b) => Buffer.compare(score(b), score(a)));
}
