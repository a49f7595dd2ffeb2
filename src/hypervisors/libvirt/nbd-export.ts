// Default openers turning a backup job's NBD export, or a powered-off VM's image file, into
// a DiskSource — both through vmbak's own NBD client and the shared qemu-nbd source module.

import { NbdClient, BASE_ALLOCATION } from '../../nbd/index.ts';
import type { DiskSource } from '../../core/disk-source.ts';
import type { ExportOpener, ImageOpener } from './session-options.ts';

interface QemuNbdSourceModule {
  openNbdSource(client: NbdClient, name: string, opts: { dirtyContext?: string | null }): DiskSource | Promise<DiskSource>;
  openImageSource(path: string, opts: { name: string }): Promise<DiskSource>;
}

// Loaded on first use: the module lives beside this adapter and is written in parallel.
const QEMU_NBD_SOURCE_MODULE = '../qemu-nbd-source.ts';
let loaded: Promise<QemuNbdSourceModule> | null = null;
function sourceModule(): Promise<QemuNbdSourceModule> {
  loaded ??= import(QEMU_NBD_SOURCE_MODULE) as Promise<QemuNbdSourceModule>;
  return loaded;
}

export const openBackupExport: ExportOpener = async (socketPath, target, dirtyContext) => {
  const mod = await sourceModule();
  const metaContexts = dirtyContext ? [BASE_ALLOCATION, dirtyContext] : [BASE_ALLOCATION];
  const client = await NbdClient.connectUnix(socketPath, { exportName: target, metaContexts, serverLabel: `${socketPath}:${target}` });
  try {
    return await mod.openNbdSource(client, target, { dirtyContext });
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
};

export const openImageFile: ImageOpener = async (path, target) => (await sourceModule()).openImageSource(path, { name: target });
