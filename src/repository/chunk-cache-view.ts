// One process's chunk table as a view of the shared chunk cache. The view knows the packs it
// may use — those in the `index/` listing this process took after its lock, less the packs gc
// condemned, plus the packs this process wrote itself — and ignores every cache row of any
// other pack, whoever put it there. That is what keeps the cache harmless: a stale or foreign
// row can cost a lookup, never a reference to a chunk outside the listed packs.
//
// Chunks this process adds (from packs whose index it has just written) are held in memory
// (~175 bytes each) and written to the cache only when they become many, in one sorted batch:
// a run's memory stays bounded, and an ordinary run writes nothing to the cache while it
// backs up (the next open reads its packs' indexes like any other new pack).

import { VmbakError } from '../core/index.ts';
import { chunkKey, MemoryChunkStore, type ChunkLocation, type ChunkTableStore } from './chunk-table.ts';
import type { ChunkCache } from './chunk-cache.ts';
import { discardChunkCache } from './chunk-cache-registry.ts';
import { isCorruption } from './chunk-cache-file.ts';

/** 256 Ki chunks: ~45 MB of memory, 16 GiB of new data at 64 KiB chunks. */
const ADDS_KEPT_IN_MEMORY = 262_144;

export class CachedChunkStore implements ChunkTableStore {
  private readonly cache: ChunkCache;
  /** Pack number in the cache → pack id, for every pack this view may use. */
  private readonly usable: Map<number, string>;
  private recent = new MemoryChunkStore();
  private deleted: Set<string> | null = null;
  private failure: string | null = null;

  private readonly addsKeptInMemory: number;

  constructor(cache: ChunkCache, usable: Map<number, string>, addsKeptInMemory = ADDS_KEPT_IN_MEMORY) {
    this.cache = cache;
    this.usable = usable;
    this.addsKeptInMemory = addsKeptInMemory;
  }

  get size(): number {
    let n = 0;
    for (const _ of this.ids()) n++;
    return n;
  }

  has(chunkId: Uint8Array): boolean {
    if (this.recent.has(chunkId)) return true;
    if (this.failure !== null || this.deleted?.has(chunkKey(chunkId))) return false;
    try {
      for (const [pack] of this.cache.rowsOf(chunkId)) if (this.usable.has(pack)) return true;
      return false;
    } catch (err) {
      // Not knowing a chunk only costs storing it again: the backup goes on.
      this.fail(err);
      return false;
    }
  }

  get(chunkId: Uint8Array): ChunkLocation | null {
    const recent = this.recent.get(chunkId);
    if (recent) return recent;
    if (this.deleted?.has(chunkKey(chunkId))) return null;
    if (this.failure !== null) throw this.unusable();
    try {
      for (const [pack, offsetBytes, lengthBytes] of this.cache.rowsOf(chunkId)) {
        const packId = this.usable.get(pack);
        if (packId !== undefined) return { packId, offsetBytes, lengthBytes };
      }
      return null;
    } catch (err) {
      this.fail(err);
      throw this.unusable();
    }
  }

  add(chunkId: Uint8Array, location: ChunkLocation): void {
    if (this.recent.has(chunkId)) return;
    this.deleted?.delete(chunkKey(chunkId));
    this.recent.add(chunkId, location);
    if (this.failure === null && this.recent.size % this.addsKeptInMemory === 0) this.flush();
  }

  delete(chunkId: Uint8Array): void {
    this.recent.delete(chunkId);
    (this.deleted ??= new Set()).add(chunkKey(chunkId));
  }

  *ids(): IterableIterator<Buffer> {
    const seen = new Set<string>();
    for (const id of this.recent.ids()) {
      seen.add(chunkKey(id));
      yield id;
    }
    if (this.failure !== null) return;
    let last: Buffer | null = null;
    for (const [id, pack] of this.cache.allRows()) {
      if (!this.usable.has(pack)) continue;
      const b = Buffer.from(id);
      if (last?.equals(b)) continue;
      last = b;
      const k = chunkKey(b);
      if (!seen.has(k) && !this.deleted?.has(k)) yield b;
    }
  }

  private flush(): void {
    try {
      for (const [packId, num] of this.cache.insertWrittenChunks([...this.recent.entries()])) this.usable.set(num, packId);
      this.recent = new MemoryChunkStore();
    } catch (err) {
      // Busy past the timeout, disk full…: keep the chunks in memory and try with the next
      // batch. Only a damaged file makes the cache useless for the rest of the run.
      if (isCorruption(err) || !this.cache.isOpen) this.fail(err);
    }
  }

  private fail(err: unknown): void {
    if (this.failure !== null) return;
    this.failure = (err as Error)?.message ?? String(err);
    discardChunkCache(this.cache, err, 'deduplicating against this run\'s chunks only until the run ends');
  }

  private unusable(): VmbakError {
    return new VmbakError('INTERNAL', { detail: `the chunk cache ${this.cache.path} failed (${this.failure}); it is rebuilt on the next run` });
  }
}
