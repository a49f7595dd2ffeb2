// Serving a backup's disks read-only (vmbak export now, the API's instant recovery later): the
// exports come with a worker pool of their own, set up for the repository and closed with the
// session, so a caller holds one thing to close.

import { WorkerPool, openBackupExports, type BackupExportSession } from '../engine/index.ts';
import type { Manifest, Repository } from '../repository/index.ts';
import type { PoolLimits } from './worker-pools.ts';

export interface BackupExportRequest extends PoolLimits {
  readonly repo: Repository;
  readonly backup: Manifest;
  /** Only this disk; null: every disk. */
  readonly disk: string | null;
  /** Memory for decoded chunks; default the engine's. */
  readonly cacheBytes?: number;
}

/** The backup's disks as NBD exports; close() ends them and their worker pool. */
export async function openBackupExport(req: BackupExportRequest): Promise<BackupExportSession> {
  const pool = WorkerPool.forRepository(req.repo, req.workers);
  try {
    const session = await openBackupExports({ repo: req.repo, manifest: req.backup, disk: req.disk, pool, cacheBytes: req.cacheBytes });
    return {
      exports: session.exports, cache: session.cache, packBytesRead: session.packBytesRead, signal: session.signal,
      close: () => session.close().finally(() => pool.close()),
    };
  } catch (err) {
    await pool.close();
    throw err;
  }
}
