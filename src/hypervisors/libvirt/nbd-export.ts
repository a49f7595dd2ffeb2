// Default openers turning a backup job's NBD export, or a powered-off VM's image file, into
// a DiskSource — both through vmbak's own NBD client and the shared qemu-nbd source module.

import { NbdClient, BASE_ALLOCATION } from '../../nbd/index.ts';
import { openImageFileLazily, openImageWithDirtyBitmap, openNbdSource } from '../index.ts';
import type { ExportOpener, ImageOpener } from './session-options.ts';

export const openBackupExport: ExportOpener = async (socketPath, target, dirtyContext) => {
  const metaContexts = dirtyContext ? [BASE_ALLOCATION, dirtyContext] : [BASE_ALLOCATION];
  const client = await NbdClient.connectUnix(socketPath, { exportName: target, metaContexts, serverLabel: `${socketPath}:${target}` });
  try {
    return openNbdSource(client, target, { dirtyContext });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
};

/**
 * Powered-off VMs: the image is read-only through qemu-nbd, whose lock keeps the VM from
 * starting meanwhile — started on the first read, so a disk skipped as unchanged is not
 * locked at all. The file's facts are taken here, before any read.
 */
export const openImageFile: ImageOpener = (path, target) => openImageFileLazily(path, target);

/** A shut-off VM's disk read through its dirty bitmap `bitmap` (cold-bitmaps.ts decides when). */
export const openImageWithBitmap = (path: string, target: string, bitmap: string) => openImageWithDirtyBitmap(path, target, bitmap);
