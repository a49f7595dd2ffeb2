// Repository usage over time — one sample after each job and gc — so the console can chart
// growth and the nearly-full alert can see the trend: stored and logical bytes, chunk count,
// and the dedup and compression ratios at that moment.

import type { Catalog } from './open.ts';

export interface UsageSample {
  readonly timeMs: number;
  readonly storedBytes: number;
  readonly logicalBytes: number;
  readonly chunkCount: number;
  /** The target's total capacity when it reports one (a filesystem, a quota), else null. */
  readonly capacityBytes: number | null;
  readonly dedupRatio: number;
  readonly compressionRatio: number;
}

export async function recordUsage(catalog: Catalog, repository: string, sample: Omit<UsageSample, 'timeMs'> & { timeMs?: number }): Promise<void> {
  const row = {
    repository, time_ms: sample.timeMs ?? catalog.clock.nowMs(), stored_bytes: sample.storedBytes,
    logical_bytes: sample.logicalBytes, chunk_count: sample.chunkCount, capacity_bytes: sample.capacityBytes,
    dedup_ratio: sample.dedupRatio, compression_ratio: sample.compressionRatio,
  };
  await catalog.db.insertInto('repository_usage').values(row)
    .onConflict((oc) => oc.columns(['repository', 'time_ms']).doUpdateSet({ ...row }))
    .execute();
}

/** Samples of `repository` from `sinceMs` on, oldest first. */
export async function listUsage(catalog: Catalog, repository: string, sinceMs = 0): Promise<UsageSample[]> {
  const rows = await catalog.db.selectFrom('repository_usage').selectAll()
    .where('repository', '=', repository).where('time_ms', '>=', sinceMs).orderBy('time_ms').execute();
  return rows.map((r) => ({
    timeMs: r.time_ms, storedBytes: r.stored_bytes, logicalBytes: r.logical_bytes, chunkCount: r.chunk_count,
    capacityBytes: r.capacity_bytes, dedupRatio: r.dedup_ratio, compressionRatio: r.compression_ratio,
  }));
}
