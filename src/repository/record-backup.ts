// Records a finished backup: its disk indexes, then — last — its manifest, each written only
// after the writer has proven against the stored lock objects that its lease still holds. One
// window is left that no check before a write can close: a writer frozen after its last proof
// and before its manifest lands, while its lock is judged stale elsewhere and gc sweeps the
// packs it wrote. So the lease is proven once more after the manifest: if it was lost, gc may
// have deleted data the manifest refers to, and the manifest is taken back before anyone is
// told the backup exists.

import { VmbakError, isVmbakError } from '../core/index.ts';
import type { Repository } from './repository.ts';
import type { DiskIndex } from './disk-index.ts';
import type { Manifest } from './manifest.ts';
import type { HeldLock } from './lease.ts';
import { newBackupId } from './backup-list.ts';
import { backupPrefix, manifestObject } from './layout.ts';

export async function recordBackup(
  repo: Repository, lock: HeldLock, indexes: ReadonlyMap<string, DiskIndex>,
  manifestFor: (backupId: string) => Manifest, preferredId?: string,
): Promise<Manifest> {
  let backupId = preferredId && (await repo.isBackupIdFree(preferredId)) ? preferredId : await unusedBackupId(repo);
  for (let attempt = 0; ; attempt++) {
    for (const [name, index] of indexes) {
      await lock.assertHeld();
      await repo.writeDiskIndex(backupId, name, index);
    }
    await lock.assertHeld();
    const manifest = manifestFor(backupId);
    // From the instant this create succeeds the backup exists.
    if (await repo.writeManifest(manifest)) {
      await confirmOrRetract(repo, lock, backupId);
      return manifest;
    }
    if (attempt >= 2) throw new VmbakError('INTERNAL', { detail: `backup ids in ${repo.displayUrl} keep being taken` });
    backupId = await unusedBackupId(repo);
  }
}

export async function unusedBackupId(repo: Repository): Promise<string> {
  for (;;) {
    const id = newBackupId();
    if (await repo.isBackupIdFree(id)) return id;
  }
}

async function confirmOrRetract(repo: Repository, lock: HeldLock, backupId: string): Promise<void> {
  try {
    await lock.assertHeld();
  } catch (err) {
    if (!isVmbakError(err, 'LEASE_LOST')) throw err;
    await repo.target.delete(manifestObject(backupId));
    for (const o of await repo.target.list(backupPrefix(backupId))) await repo.target.delete(o.name).catch(() => {});
    throw err;
  }
}
