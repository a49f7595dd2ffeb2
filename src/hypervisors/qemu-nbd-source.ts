// A disk image file (raw, qcow2, vmdk, vhdx: anything QEMU reads) as a DiskSource: probed
// with qemu-img, served read-only by a private qemu-nbd, read through our NBD client. This
// is how powered-off VMs and templates are backed up. Also re-exports openNbdSource, the
// generic NbdClient → DiskSource adapter the libvirt backup exports use.

import path from 'node:path';
import type { DiskSource } from '../core/index.ts';
import { BASE_ALLOCATION } from '../nbd/index.ts';
import { probeImage } from './image-probe.ts';
import { startQemuNbd } from './qemu-nbd-process.ts';
import { openNbdSource } from './nbd-disk-source.ts';
import { openRawFileReader } from './raw-file-reader.ts';

export { openNbdSource } from './nbd-disk-source.ts';
export type { NbdSourceOptions } from './nbd-disk-source.ts';

export interface ImageSourceOptions {
  /** Disk name in backups; defaults to the file name without its extension. */
  readonly name?: string;
  /** Image format; detected by qemu-img when absent (always pass it for untrusted raw images). */
  readonly format?: string;
}

export async function openImageSource(imagePath: string, opts: ImageSourceOptions = {}): Promise<DiskSource> {
  // An absolute path keeps QEMU from reading "proto:..." file names as protocols.
  const absPath = path.resolve(imagePath);
  const info = await probeImage(absPath, opts.format);
  return openProbedImageSource(absPath, info.format, opts.name ?? path.basename(absPath, path.extname(absPath)));
}

/**
 * A shut-off VM's image with its persistent dirty bitmap `bitmap` exposed: the source's
 * mapDirty reports the clusters written since the bitmap's checkpoint.
 */
export async function openImageWithDirtyBitmap(imagePath: string, name: string, bitmap: string): Promise<DiskSource> {
  const absPath = path.resolve(imagePath);
  const info = await probeImage(absPath);
  const dirtyContext = `qemu:dirty-bitmap:${bitmap}`;
  const session = await startQemuNbd(absPath, info.format, [BASE_ALLOCATION, dirtyContext], bitmap);
  try {
    return openNbdSource(session.client, name, { dirtyContext, onClose: () => session.stop() });
  } catch (err) {
    await session.stop();
    throw err;
  }
}

/**
 * openImageSource() of an image already probed: absPath absolute, format as probeImage() found it.
 * A raw image's data is read from the file itself (raw-file-reader.ts); qemu-nbd maps it.
 */
export async function openProbedImageSource(absPath: string, format: string, name: string): Promise<DiskSource> {
  const session = await startQemuNbd(absPath, format, [BASE_ALLOCATION]);
  // The client is already closed by the source; stopping again only waits for qemu-nbd.
  const source = openNbdSource(session.client, name, { onClose: () => session.stop() });
  if (format !== 'raw') return source;
  let reader;
  try {
    reader = await openRawFileReader(absPath);
  } catch (err) {
    await source.close();
    throw err;
  }
  const file = reader;
  return {
    ...source,
    read: (offsetBytes, lengthBytes, into) => {
      if (offsetBytes < 0 || lengthBytes < 0 || offsetBytes + lengthBytes > source.sizeBytes) return source.read(offsetBytes, lengthBytes, into);
      return file.read(offsetBytes, lengthBytes, into);
    },
    close: async () => {
      await file.close();
      await source.close();
    },
  };
}
