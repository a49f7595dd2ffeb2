// Opens a backup for serving over NBD ("restore without restoring"): takes an operation lock
// so gc deletes nothing the backup needs for as long as it is served (a lease: once it is
// lost, every read fails and `signal` says why), checks each disk's
// index against the manifest, and gives one export per disk (the first is the default),
// all sharing one chunk fetcher and one decoded-chunk cache.

import { VmbakError } from '../core/index.ts';
import { acquireLock, loadChunkTable, noteGcPlan, operationLockName, type Manifest, type Repository } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { BackupDiskExport } from './backup-export.ts';
import { ChunkFetcher } from './chunk-fetcher.ts';
import { DecodedChunkCache } from './decoded-chunk-cache.ts';

export const DEFAULT_EXPORT_CACHE_BYTES = 256 << 20;
const DEFAULT_READ_AHEAD_BYTES = 8 << 20;

export interface ExportBackupRequest {
  readonly repo: Repository;
  readonly manifest: Manifest;
  /** Serve only this disk; null serves all. */
  readonly disk: string | null;
  readonly pool: WorkerPool;
  readonly cacheBytes?: number;
  readonly readAheadBytes?: number;
  readonly packReadsInFlight?: number;
}

export interface BackupExportSession {
  readonly exports: readonly BackupDiskExport[];
  readonly cache: DecodedChunkCache;
  /** Bytes read from the repository's packs so far, for every export of the session. */
  packBytesRead(): number;
  /** Fires when the exports stop serving: the session was closed or its lease was lost (the reason says which). */
  readonly signal: AbortSignal;
  /** Stops serving reads and releases the lock. */
  close(): Promise<void>;
}

export async function openBackupExports(req: ExportBackupRequest): Promise<BackupExportSession> {
  const { repo, manifest } = req;
  const disks = req.disk === null ? manifest.disks : manifest.disks.filter((d) => d.name === req.disk);
  if (disks.length === 0) {
    throw new VmbakError('DISK_NOT_IN_BACKUP', { backupId: manifest.backupId, disk: req.disk ?? '', disks: manifest.disks.map((d) => d.name).join(', ') || 'none' });
  }
  const lock = await acquireLock(repo.target, operationLockName(), `export of ${manifest.backupId}`, 'export');
  const stop = new AbortController();
  // Without the lease gc may delete packs the export reads: from then on every read fails.
  const signal = AbortSignal.any([stop.signal, lock.signal]);
  try {
    await noteGcPlan(repo, lock);
    const table = await loadChunkTable(repo.target, repo.keys, new Set(), repo.config.repositoryId);
    const cache = new DecodedChunkCache(req.cacheBytes ?? DEFAULT_EXPORT_CACHE_BYTES);
    const fetcher = new ChunkFetcher({ repo, table, pool: req.pool, cache, readsInFlight: req.packReadsInFlight });
    // Read-ahead must not push out of the cache what it fetched before it is read.
    const readAheadBytes = Math.min(req.readAheadBytes ?? DEFAULT_READ_AHEAD_BYTES, Math.floor(cache.capacityBytes / 4));
    const exports: BackupDiskExport[] = [];
    for (const d of disks) {
      const index = await repo.readDiskIndex(manifest.backupId, d.name);
      if (index.digest() !== d.digest) throw new VmbakError('INDEX_CORRUPT', { backupId: manifest.backupId, disk: d.name, detail: 'does not match the digest in the manifest' });
      exports.push(new BackupDiskExport({
        backupId: manifest.backupId, vmName: manifest.vm.name, disk: d.name, index, fetcher, signal, readAheadBytes,
      }));
    }
    let closed: Promise<void> | null = null;
    return {
      exports,
      cache,
      packBytesRead: () => fetcher.packBytesRead,
      signal,
      close: () => {
        closed ??= (async () => {
          if (!stop.signal.aborted) stop.abort(new VmbakError('INTERNAL', { detail: `the export of ${manifest.backupId} was closed` }));
          await lock.release().catch(() => {});
        })();
        return closed;
      },
    };
  } catch (err) {
    await lock.release().catch(() => {});
    throw err;
  }
}
