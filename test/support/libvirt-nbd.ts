// The NBD export opener the libvirt tests use: the shared qemu-nbd source module when it is
// present, else a minimal DiskSource over vmbak's NbdClient (so the adapter can be tested
// while that module is written in parallel).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NbdClient, BASE_ALLOCATION, NBD_STATE_HOLE, NBD_STATE_ZERO, NBD_STATE_DIRTY } from '../../src/nbd/index.ts';
import type { DiskSource } from '../../src/core/disk-source.ts';
import type { ExportOpener } from '../../src/hypervisors/libvirt/index.ts';

const sharedModule = fileURLToPath(new URL('../../src/hypervisors/qemu-nbd-source.ts', import.meta.url));

export function hasSharedSourceModule(): boolean {
  return existsSync(sharedModule);
}

/** undefined = use the adapter's default (shared module); else the minimal test opener. */
export function testExportOpener(): ExportOpener | undefined {
  return hasSharedSourceModule() ? undefined : openMinimalExport;
}

const openMinimalExport: ExportOpener = async (socketPath, target, dirtyContext) => {
  const metaContexts = dirtyContext ? [BASE_ALLOCATION, dirtyContext] : [BASE_ALLOCATION];
  const client = await NbdClient.connectUnix(socketPath, { exportName: target, metaContexts });
  const source: DiskSource = {
    name: target,
    sizeBytes: client.sizeBytes,
    async mapAllocation(offsetBytes, lengthBytes) {
      return (await client.blockStatus(BASE_ALLOCATION, offsetBytes, lengthBytes)).map((e) => ({
        offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes,
        zero: (e.flags & (NBD_STATE_ZERO | NBD_STATE_HOLE)) !== 0 && (e.flags & NBD_STATE_ZERO) !== 0,
      }));
    },
    read: (offsetBytes, lengthBytes) => client.read(offsetBytes, lengthBytes),
    close: () => client.close(),
  };
  if (dirtyContext) {
    return {
      ...source,
      async mapDirty(offsetBytes: number, lengthBytes: number) {
        return (await client.blockStatus(dirtyContext, offsetBytes, lengthBytes))
          .filter((e) => (e.flags & NBD_STATE_DIRTY) !== 0)
          .map((e) => ({ offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes }));
      },
    };
  }
  return source;
};

/** Reads a whole DiskSource in 1 MiB pieces. */
export async function readAll(source: DiskSource): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; at < source.sizeBytes; at += 1024 * 1024) {
    parts.push(await source.read(at, Math.min(1024 * 1024, source.sizeBytes - at)));
  }
  return Buffer.concat(parts);
}
