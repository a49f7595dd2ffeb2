// Changed-block tracking for shut-off VMs. libvirt's checkpoints are persistent dirty bitmaps
// inside the qcow2 images, named after the checkpoint; they stay there when the VM shuts
// down. A disk whose image holds the bitmap of the previous backup's checkpoint, not marked
// in-use (QEMU sets that while it writes and clears it on a clean close: a crash leaves it
// set and the bitmap untrustworthy), is read through qemu-nbd with that bitmap exposed, so
// only the clusters written since are read. Anything else reads the disk in full and says why.

import { listImageBitmaps } from '../index.ts';
import type { DiskPlan } from './session-options.ts';

export interface ColdRead {
  /** The bitmap to read changes from, or null for a full read. */
  readonly bitmap: string | null;
  readonly fallbackReason: string | null;
}

export async function planColdReads(disks: readonly DiskPlan[], sinceCheckpoint: string | null): Promise<ColdRead[]> {
  const reads: ColdRead[] = [];
  for (const d of disks) {
    if (!d.incremental || sinceCheckpoint === null) {
      reads.push({ bitmap: null, fallbackReason: d.fallbackReason ?? 'VM is shut off' });
      continue;
    }
    const bitmaps = await listImageBitmaps(d.path);
    const found = bitmaps.find((b) => b.name === sinceCheckpoint);
    if (!found) reads.push({ bitmap: null, fallbackReason: `VM is shut off and ${d.path} has no dirty bitmap of checkpoint ${sinceCheckpoint}` });
    else if (!found.consistent) reads.push({ bitmap: null, fallbackReason: `VM is shut off and the dirty bitmap ${sinceCheckpoint} of ${d.path} is inconsistent (the VM did not stop cleanly)` });
    else reads.push({ bitmap: sinceCheckpoint, fallbackReason: null });
  }
  return reads;
}
