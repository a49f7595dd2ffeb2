// Helpers the libvirt tests share for reading what a session exposes.

import type { DiskSource } from '../../src/core/disk-source.ts';

/** Reads a whole DiskSource in 1 MiB pieces. */
export async function readAll(source: DiskSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; at < source.sizeBytes; at += 1024 * 1024) {
    parts.push(await source.read(at, Math.min(1024 * 1024, source.sizeBytes - at)));
  }
  return Buffer.concat(parts);
}
