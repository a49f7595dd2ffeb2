// Opening a chunk table through the local chunk cache: reconcile the cache with a fresh
// listing of `index/`, read only the pack indexes it lacks, and hand out a view limited to
// the listed packs. The reconciliation rule (docs/format.md, "Memory and scale"):
//
//   1. note the packs the cache holds, BEFORE listing;
//   2. list `index/` (a failure is an error, as always);
//   3. drop the noted packs the listing lacks — they were deleted (by gc) after someone
//      cached them. A pack cached after step 1 is never dropped here: its index existed
//      when it was cached, so a listing that predates it says nothing about it;
//   4. read and insert every listed pack the cache does not hold completely;
//   5. use only rows of listed packs, less the excluded (condemned) ones.

import { ChunkTable } from './chunk-table.ts';
import type { ChunkCache } from './chunk-cache.ts';
import { chunkCacheFor, discardChunkCache } from './chunk-cache-registry.ts';
import { CachedChunkStore } from './chunk-cache-view.ts';
import { sqliteCode } from './chunk-cache-file.ts';
import type { PackEntry } from './pack-format.ts';

export interface PackIndexSource {
  list(): Promise<string[]>;
  read(packId: string): Promise<PackEntry[]>;
  /** Runs read over many packs with bounded concurrency. */
  forEach(packIds: readonly string[], fn: (packId: string) => Promise<void>): Promise<void>;
}

/** Index entries held in memory before they are written to the staging table. */
const ROWS_PER_STAGE = 16_384;

/**
 * A table backed by the cache of `repositoryId`, or null when the cache cannot be used (the
 * caller then builds the in-memory table). Errors of the target propagate as they are.
 */
export async function loadCachedChunkTable(repositoryId: string, source: PackIndexSource, exclude: ReadonlySet<string>): Promise<ChunkTable | null> {
  const cache = chunkCacheFor(repositoryId);
  if (!cache) return null;
  try {
    const usable = await reconcile(cache, source, exclude);
    return new ChunkTable(new CachedChunkStore(cache, usable));
  } catch (err) {
    if (sqliteCode(err) === null && !(err as { code?: string })?.code?.startsWith('ERR_INVALID_STATE')) throw err;
    discardChunkCache(cache, err, 'using an in-memory chunk table');
    return null;
  }
}

async function reconcile(cache: ChunkCache, source: PackIndexSource, exclude: ReadonlySet<string>): Promise<Map<number, string>> {
  const before = cache.packs();
  const listed = await source.list();
  const listedSet = new Set(listed);
  const gone = [...before].filter(([id]) => !listedSet.has(id)).map(([, p]) => p.num);
  cache.dropPacks(gone);
  let toRead = listed.filter((id) => !before.get(id)?.complete);
  const changed = gone.length > 0 || toRead.length > 0;
  // More than one pass only if another process dropped a pack this one has just loaded
  // (possible only for a pack deleted and re-created between two listings).
  for (let pass = 0; pass < 3; pass++) {
    await insertPackIndexes(cache, source, toRead);
    const now = cache.packs();
    const usable = new Map<number, string>();
    toRead = [];
    for (const id of listed) {
      if (exclude.has(id)) continue;
      const p = now.get(id);
      if (p?.complete) usable.set(p.num, id);
      else toRead.push(id);
    }
    if (toRead.length === 0) {
      if (changed) cache.checkpoint();
      return usable;
    }
  }
  throw Object.assign(new Error(`${toRead.length} pack(s) keep disappearing from the cache`), { code: 'ERR_SQLITE_ERROR', errcode: 1 });
}

async function insertPackIndexes(cache: ChunkCache, source: PackIndexSource, packIds: readonly string[]): Promise<void> {
  if (packIds.length === 0) return;
  const staging = cache.startStaging();
  try {
    let batch: { packId: string; entries: PackEntry[] }[] = [];
    let rows = 0;
    await source.forEach(packIds, async (packId) => {
      const entries = await source.read(packId);
      batch.push({ packId, entries });
      rows += entries.length;
      if (rows >= ROWS_PER_STAGE) {
        staging.add(batch);
        batch = [];
        rows = 0;
      }
    });
    staging.add(batch);
    // Merged as it goes (every 2 Mi rows): a run killed halfway keeps what it merged.
    staging.finish();
  } catch (err) {
    staging.discard();
    throw err;
  }
}
