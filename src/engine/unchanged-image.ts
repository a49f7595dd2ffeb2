// Whether an image file may be skipped: its facts (size, mtime, ctime, inode, device, path,
// and those of its backing files) are the ones the previous backup of the VM recorded before
// it read the file. Then the file has not been written since (ctime is the guard — a tool
// may put mtime back, but cannot put ctime back) and the previous disk index, once checked
// like any base (digest, every chunk stored), is this backup's index without a read.

import type { SourceFileFacts } from '../core/index.ts';
import type { Manifest, ManifestDisk } from '../repository/index.ts';

export type ReadDecision =
  | { readonly skip: true; readonly reason: string }
  /** reason is null for disks that are not image files (hot libvirt exports): always read. */
  | { readonly skip: false; readonly reason: string | null };

export interface ReadDecisionInput {
  readonly facts: SourceFileFacts | null | undefined;
  readonly previous: Manifest | null;
  readonly prevDisk: ManifestDisk | null;
  readonly forceRead: boolean;
  /** --copy-to repositories read what the primary did not: they need the image read. */
  readonly copies: number;
}

const FIELDS = ['size', 'mtime', 'ctime', 'inode', 'device', 'path'] as const;

/** Skip or read, and why; a skip still needs the previous index to pass chooseBase. */
export function decideImageRead(input: ReadDecisionInput): ReadDecision {
  const { facts, previous, prevDisk } = input;
  if (facts === undefined) return { skip: false, reason: null };
  if (!previous) return { skip: false, reason: 'first backup' };
  if (input.forceRead) return { skip: false, reason: '--force-read' };
  if (facts === null) return { skip: false, reason: 'image file facts cannot vouch for it (not a regular file, or written within the last second)' };
  if (!prevDisk) return { skip: false, reason: `disk is new since backup ${previous.backupId}` };
  if (!prevDisk.sourceFile) return { skip: false, reason: `backup ${previous.backupId} recorded no facts of this image file` };
  if (input.copies > 0) return { skip: false, reason: '--copy-to repositories read the image' };
  const changed = changedFacts(prevDisk.sourceFile, facts);
  if (changed.length > 0) return { skip: false, reason: `image changed: ${changed.join(', ')}` };
  return { skip: true, reason: `image unchanged since backup ${previous.backupId} (size, mtime, ctime, inode)` };
}

/** The facts that differ, named; a backing file's change is named with its path. */
export function changedFacts(before: SourceFileFacts, now: SourceFileFacts): string[] {
  const changed: string[] = differing(before, now);
  const a = before.backing ?? [];
  const b = now.backing ?? [];
  if (a.length !== b.length) changed.push('backing chain');
  else a.forEach((f, i) => { for (const d of differing(f, b[i]!)) changed.push(`backing file ${b[i]!.path}: ${d}`); });
  return changed;
}

function differing(a: Omit<SourceFileFacts, 'backing'>, b: Omit<SourceFileFacts, 'backing'>): string[] {
  const same: Record<(typeof FIELDS)[number], boolean> = {
    size: a.sizeBytes === b.sizeBytes, mtime: a.mtimeNs === b.mtimeNs, ctime: a.ctimeNs === b.ctimeNs,
    inode: a.inode === b.inode, device: a.device === b.device, path: a.path === b.path,
  };
  return FIELDS.filter((f) => !same[f]);
}
