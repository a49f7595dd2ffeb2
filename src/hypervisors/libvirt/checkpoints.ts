// The checkpoints vmbak creates with each hot backup (libvirt checkpoints = persistent dirty
// bitmaps in the qcow2 images) and the chain-safety check before one is used as the base of
// an incremental. vmbak's own checkpoints are recognised by their name prefix and a
// description holding the disk set they were taken with (target → path and size), so a
// resized, added or replaced disk is noticed even though libvirt would accept the bitmap.

import { randomBytes } from 'node:crypto';
import { asArray, escapeXml, parseXml, textOf } from './xml.ts';
import type { XmlNode } from './xml.ts';
import { virsh, virshRaw } from './virsh.ts';
import type { VirshOptions } from './virsh.ts';

export const CHECKPOINT_PREFIX = 'vmbak-';
const DESCRIPTION_PREFIX = 'vmbak checkpoint ';

/** What a checkpoint was taken of: per disk target, its image path and virtual size. */
export type CheckpointDiskSet = Record<string, { path: string; sizeBytes: number }>;

export interface CheckpointInfo {
  readonly name: string;
  readonly createdByVmbak: boolean;
  /** Targets with a dirty bitmap in this checkpoint. */
  readonly bitmapDisks: readonly string[];
  readonly diskSet: CheckpointDiskSet | null;
  readonly creationTimeSec: number;
}

export function newCheckpointName(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${CHECKPOINT_PREFIX}${stamp}-${randomBytes(3).toString('hex')}`;
}

/** checkpoint XML for backup-begin: bitmaps for `bitmapTargets`, checkpoint='no' for the rest. */
export function checkpointXml(name: string, bitmapTargets: readonly string[], noBitmapTargets: readonly string[], diskSet: CheckpointDiskSet): string {
  const disks = [
    ...bitmapTargets.map((t) => `    <disk name='${escapeXml(t)}' checkpoint='bitmap'/>`),
    ...noBitmapTargets.map((t) => `    <disk name='${escapeXml(t)}' checkpoint='no'/>`),
  ].join('\n');
  return `<domaincheckpoint>
  <name>${escapeXml(name)}</name>
  <description>${escapeXml(DESCRIPTION_PREFIX + JSON.stringify(diskSet))}</description>
  <disks>
${disks}
  </disks>
</domaincheckpoint>
`;
}

export async function listCheckpoints(vm: string, opts: VirshOptions = {}): Promise<string[]> {
  const out = await virsh(['checkpoint-list', vm, '--name'], { ...opts, vm });
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** A checkpoint's details, or null when libvirt does not have it. */
export async function getCheckpoint(vm: string, name: string, opts: VirshOptions = {}): Promise<CheckpointInfo | null> {
  let xml: string;
  try {
    xml = await virshRaw(['checkpoint-dumpxml', vm, name, '--no-domain'], opts);
  } catch (err) {
    if ((await listCheckpoints(vm, opts)).includes(name)) throw err;
    return null;
  }
  return parseCheckpointXml(xml);
}

export function parseCheckpointXml(xml: string): CheckpointInfo {
  const cp = parseXml(xml).domaincheckpoint as XmlNode;
  const name = textOf(cp.name) ?? '';
  const description = textOf(cp.description) ?? '';
  let diskSet: CheckpointDiskSet | null = null;
  if (description.startsWith(DESCRIPTION_PREFIX)) {
    try { diskSet = JSON.parse(description.slice(DESCRIPTION_PREFIX.length)) as CheckpointDiskSet; } catch { diskSet = null; }
  }
  const bitmapDisks = asArray((cp.disks as XmlNode | undefined)?.disk)
    .filter((d) => d['@_checkpoint'] === 'bitmap').map((d) => String(d['@_name']));
  return {
    name,
    createdByVmbak: name.startsWith(CHECKPOINT_PREFIX) && diskSet !== null,
    bitmapDisks,
    diskSet,
    creationTimeSec: Number(textOf(cp.creationTime) ?? 0),
  };
}

/** Deletes a checkpoint; libvirt merges its bitmap into its parent so no change is lost. */
export async function deleteCheckpoint(vm: string, name: string, opts: VirshOptions = {}): Promise<void> {
  try {
    await virshRaw(['checkpoint-delete', vm, name], opts);
  } catch (err) {
    if (!(await listCheckpoints(vm, opts)).includes(name)) return; // already gone
    await virsh(['checkpoint-delete', vm, name], { ...opts, vm });
  }
}

/**
 * Why `base` cannot be the base of an incremental for `target` now, or null when it can.
 * The checkpoint must exist, be one of vmbak's, track this disk with a bitmap, and have been
 * taken of the same image at the same size.
 */
export function incrementalRefusal(base: CheckpointInfo | null, baseName: string, target: string, now: { path: string; sizeBytes: number }): string | null {
  if (!base) return `checkpoint ${baseName} no longer exists in libvirt`;
  if (!base.createdByVmbak) return `checkpoint ${baseName} was not created by vmbak`;
  if (!base.bitmapDisks.includes(target)) return `checkpoint ${baseName} has no dirty bitmap for ${target}`;
  const then = base.diskSet?.[target];
  if (!then) return `disk ${target} was added after checkpoint ${baseName}`;
  if (then.path !== now.path) return `disk ${target} was replaced since checkpoint ${baseName} (${then.path} → ${now.path})`;
  if (then.sizeBytes !== now.sizeBytes) return `disk ${target} was resized since checkpoint ${baseName} (${then.sizeBytes} → ${now.sizeBytes} bytes)`;
  return null;
}
