// Worker-pool set-up for every operation that encodes or decodes chunks (restore, verify,
// copy): one pool per repository with that repository's key and compression level, sized to
// the cores unless the caller limits it (a server running several jobs at once), and closed
// however the operation ends so no worker thread outlives it.

import { WorkerPool } from '../engine/index.ts';
export { prestartWorkers } from '../engine/index.ts';
import type { Repository } from '../repository/index.ts';

export interface PoolLimits {
  /** Worker threads per pool; default one per core. */
  readonly workers?: number;
}

export async function withWorkerPool<T>(repo: Repository, limits: PoolLimits, fn: (pool: WorkerPool) => Promise<T>): Promise<T> {
  const pool = WorkerPool.forRepository(repo, limits.workers);
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}
