// The local, persistent copy of a repository's chunk table: one SQLite database per
// repository id, shared by every vmbak process of this user on this host. It holds rows
// (chunk id, pack, offset, length) read from pack index objects, and which packs are fully
// loaded. It never decides on its own what exists: each process reconciles it with its own
// listing of `index/` (chunk-cache-load.ts) and then consults only rows of packs in that
// listing (chunk-cache-view.ts). Every write is one short transaction, so a process killed
// at any point leaves the cache as it was before or after that transaction.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { statSync } from 'node:fs';
import type { PackEntry } from './pack-format.ts';
import { openCacheFile, chunkCacheDir, chunkCachePath, isCorruption, markCacheBroken } from './chunk-cache-file.ts';
import type { ChunkLocation } from './chunk-table.ts';

export interface CachedPack {
  readonly num: number;
  readonly complete: boolean;
}

/**
 * Rows per write transaction. Chunk ids are random, so each row lands on a random page of a
 * large table: bigger batches, inserted in id order, write each page once per batch instead
 * of once per row. Yet a transaction holds the write lock, so it must stay short enough for
 * another process's writes to wait for it.
 */
const ROWS_PER_TRANSACTION = 131_072;
const byChunkId = (a: { chunkId: Uint8Array }, b: { chunkId: Uint8Array }): number => Buffer.compare(a.chunkId, b.chunkId);

export class ChunkCache {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly selectPacks: StatementSync;
  private readonly selectPack: StatementSync;
  private readonly insertPack: StatementSync;
  private readonly markComplete: StatementSync;
  private readonly insertChunk: StatementSync;
  private readonly deleteChunksOf: StatementSync;
  private readonly deletePack: StatementSync;
  private readonly lookup: StatementSync;
  private readonly scan: StatementSync;

  constructor(db: DatabaseSync, path: string) {
    this.db = db;
    this.path = path;
    this.selectPacks = db.prepare('SELECT num, id, complete FROM pack');
    this.selectPack = db.prepare('SELECT num FROM pack WHERE id = ?');
    this.insertPack = db.prepare('INSERT OR IGNORE INTO pack (id, complete) VALUES (?, 0)');
    this.markComplete = db.prepare('UPDATE pack SET complete = 1 WHERE num = ?');
    this.insertChunk = db.prepare('INSERT OR IGNORE INTO chunk (id, pack, off, len) VALUES (?, ?, ?, ?)');
    this.deleteChunksOf = db.prepare('DELETE FROM chunk WHERE pack = ?');
    this.deletePack = db.prepare('DELETE FROM pack WHERE num = ?');
    this.lookup = db.prepare('SELECT pack, off, len FROM chunk WHERE id = ?');
    this.lookup.setReturnArrays(true);
    this.scan = db.prepare('SELECT id, pack FROM chunk ORDER BY id');
    this.scan.setReturnArrays(true);
  }

  /** Every pack the cache knows, by pack id. */
  packs(): Map<string, CachedPack> {
    const rows = this.selectPacks.all() as { num: number; id: string; complete: number }[];
    return new Map(rows.map((r) => [r.id, { num: r.num, complete: r.complete === 1 }]));
  }

  /** Stores whole pack indexes and marks each pack complete in the same transaction as its rows. */
  insertCompletePacks(packs: readonly { packId: string; entries: readonly PackEntry[] }[]): void {
    let i = 0;
    while (i < packs.length) {
      const group: { packId: string; entries: readonly PackEntry[] }[] = [];
      let rows = 0;
      do {
        group.push(packs[i]!);
        rows += packs[i++]!.entries.length;
      } while (i < packs.length && rows < ROWS_PER_TRANSACTION);
      this.transaction(() => {
        const nums = group.map((p) => this.packNumber(p.packId));
        const all = group.flatMap((p, k) => p.entries.map((e) => ({ chunkId: e.chunkId, num: nums[k]!, e }))).sort(byChunkId);
        for (const { chunkId, num, e } of all) this.insertChunk.run(chunkId, num, e.offsetBytes, e.lengthBytes);
        for (const num of nums) this.markComplete.run(num);
      });
    }
  }

  /**
   * Stores rows of packs this process has just written (their index objects exist). The packs
   * stay incomplete: the next reconciliation reads their indexes to be sure nothing is missing.
   * Returns the pack numbers used.
   */
  insertWrittenChunks(rows: readonly { chunkId: Uint8Array; location: ChunkLocation }[]): Map<string, number> {
    const nums = new Map<string, number>();
    const sorted = [...rows].sort(byChunkId);
    this.transaction(() => {
      for (const { chunkId, location } of sorted) {
        let num = nums.get(location.packId);
        if (num === undefined) nums.set(location.packId, num = this.packNumber(location.packId));
        this.insertChunk.run(chunkId, num, location.offsetBytes, location.lengthBytes);
      }
    });
    return nums;
  }

  /** Removes packs and their rows, a few packs per transaction. */
  dropPacks(nums: readonly number[]): void {
    for (let i = 0; i < nums.length; i += 16) {
      this.transaction(() => {
        for (const num of nums.slice(i, i + 16)) {
          this.deleteChunksOf.run(num);
          this.deletePack.run(num);
        }
      });
    }
  }

  packNumberOf(packId: string): number | null {
    return (this.selectPack.get(packId) as { num: number } | undefined)?.num ?? null;
  }

  /** Every row of this chunk id: [pack number, offset, length]. */
  rowsOf(chunkId: Uint8Array): [number, number, number][] {
    return this.lookup.all(chunkId) as unknown as [number, number, number][];
  }

  /** Every (chunk id, pack number) in id order. */
  *allRows(): IterableIterator<[Uint8Array, number]> {
    yield* this.scan.iterate() as unknown as IterableIterator<[Uint8Array, number]>;
  }

  /** Called when SQLite reports a damaged file mid-run: the next open rebuilds it. */
  noteError(err: unknown): void {
    if (isCorruption(err)) markCacheBroken(this.path);
  }

  /**
   * Copies the write-ahead log into the database file when no reader holds it back: lookups
   * cost ~30% less when they need not consult a large log.
   */
  checkpoint(): void {
    try {
      this.db.exec('PRAGMA wal_checkpoint(PASSIVE)');
    } catch {
      // Only an optimisation: a later checkpoint (or close) does it.
    }
  }

  get isOpen(): boolean {
    return this.db.isOpen;
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  private packNumber(packId: string): number {
    this.insertPack.run(packId);
    return (this.selectPack.get(packId) as { num: number }).num;
  }

  private transaction(fn: () => void): void {
    // IMMEDIATE takes the write lock up front (waiting up to the busy timeout) instead of
    // failing when a read turns into a write while another process writes.
    this.db.exec('BEGIN IMMEDIATE');
    try {
      fn();
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }
}

const openCaches = new Map<string, ChunkCache>();
let exitHooked = false;
const warned = new Set<string>();

/**
 * The cache of one repository, opened once per process and shared by every table of it; null
 * (after a one-line warning) when it cannot be used, and the caller goes on in memory.
 */
export function chunkCacheFor(repositoryId: string): ChunkCache | null {
  if (process.env.VMBAK_CACHE === 'off') return null;
  const path = chunkCachePath(repositoryId, chunkCacheDir());
  const open = openCaches.get(path);
  if (open) return open;
  const result = openCacheFile(repositoryId, chunkCacheDir());
  if (!result.db) {
    warnCacheUnusable(result.path, result.reason, 'using an in-memory chunk table');
    return null;
  }
  const cache = new ChunkCache(result.db, result.path);
  // Closing checkpoints the log and removes it; a process that dies instead leaves a log that
  // the next open replays.
  if (!exitHooked) process.once('exit', closeChunkCaches);
  exitHooked = true;
  openCaches.set(path, cache);
  return cache;
}

/** The cache of a repository only if its file exists already (gc updates, never creates it). */
export function existingChunkCacheFor(repositoryId: string): ChunkCache | null {
  const path = chunkCachePath(repositoryId, chunkCacheDir());
  if (!openCaches.has(path) && !existsSyncSafe(path)) return null;
  return chunkCacheFor(repositoryId);
}

/** Forgets a failed cache so the next table of that repository opens it again (or rebuilds it). */
export function discardChunkCache(cache: ChunkCache, err: unknown, consequence: string): void {
  warnCacheUnusable(cache.path, (err as Error)?.message ?? String(err), consequence);
  cache.noteError(err);
  openCaches.delete(cache.path);
  try {
    cache.close();
  } catch {
    // Closing a damaged database may fail too; the file is rebuilt on the next open anyway.
  }
}

/** Closes every cache this process opened (tests; a process that exits needs not). */
export function closeChunkCaches(): void {
  for (const c of openCaches.values()) c.close();
  openCaches.clear();
}

export function warnCacheUnusable(path: string, reason: string, consequence: string): void {
  if (warned.has(path)) return;
  warned.add(path);
  process.stderr.write(`vmbak: warning: chunk cache ${path} unusable (${reason}); ${consequence}\n`);
}

function existsSyncSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Removes packs from this host's cache of a repository, if it has one — gc calls it before it
 * deletes them. Other hosts' caches learn of the deletion when they next list `index/`.
 */
export function forgetCachedPacks(repositoryId: string, packIds: readonly string[]): void {
  if (packIds.length === 0) return;
  const cache = existingChunkCacheFor(repositoryId);
  if (!cache) return;
  try {
    cache.dropPacks(packIds.map((id) => cache.packNumberOf(id)).filter((n): n is number => n !== null));
  } catch (err) {
    discardChunkCache(cache, err, 'the next run rebuilds it');
  }
}
