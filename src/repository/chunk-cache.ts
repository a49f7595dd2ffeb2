// The local, persistent copy of a repository's chunk table: one SQLite database per
// repository id, shared by every vmbak process of this user on this host. It holds rows
// (chunk id, pack, offset, length) read from pack index objects, and which packs are fully
// loaded. It never decides on its own what exists: each process reconciles it with its own
// listing of `index/` (chunk-cache-load.ts) and then consults only rows of packs in that
// listing (chunk-cache-view.ts). Every write is a transaction, so a process killed at any
// point leaves the cache as it was before or after that transaction.
//
// Chunk ids are random, so a row inserted into a large table lands on a random page, and
// inserting rows one pack at a time would rewrite most of the table's pages again and again.
// Pack indexes are therefore first staged in a temporary table of this connection and merged
// in id order, so that each merge writes every page it touches once.

import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { PackEntry } from './pack-format.ts';
import { isCorruption, markCacheBroken } from './chunk-cache-file.ts';
import type { ChunkLocation } from './chunk-table.ts';

export interface CachedPack {
  readonly num: number;
  readonly complete: boolean;
}

/** Staged rows per merge: bounds the temporary table and each merge's hold on the write lock. */
const ROWS_PER_MERGE = 1 << 21;
const ID_BYTES = 32;

export class ChunkCache {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly selectPacks: StatementSync;
  private readonly selectPack: StatementSync;
  private readonly insertPack: StatementSync;
  private readonly appendPackIds: StatementSync;
  private readonly insertChunk: StatementSync;
  private readonly deleteChunk: StatementSync;
  private readonly deleteChunksOf: StatementSync;
  private readonly selectPackIds: StatementSync;
  private readonly deletePack: StatementSync;
  private readonly lookup: StatementSync;
  private readonly scan: StatementSync;
  private stagings = 0;

  constructor(db: DatabaseSync, path: string) {
    this.db = db;
    this.path = path;
    this.selectPacks = db.prepare('SELECT num, id, complete FROM pack');
    this.selectPack = db.prepare('SELECT num FROM pack WHERE id = ?');
    this.insertPack = db.prepare('INSERT OR IGNORE INTO pack (id, complete, ids) VALUES (?, 0, x\'\')');
    this.appendPackIds = db.prepare('UPDATE pack SET ids = ids || ? WHERE num = ? AND complete = 0');
    this.insertChunk = db.prepare('INSERT OR IGNORE INTO chunk (id, pack, off, len) VALUES (?, ?, ?, ?)');
    this.deleteChunk = db.prepare('DELETE FROM chunk WHERE id = ? AND pack = ?');
    this.deleteChunksOf = db.prepare('DELETE FROM chunk WHERE pack = ?');
    this.selectPackIds = db.prepare('SELECT ids FROM pack WHERE num = ?');
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

  packNumberOf(packId: string): number | null {
    return (this.selectPack.get(packId) as { num: number } | undefined)?.num ?? null;
  }

  /** A place to put whole pack indexes; they become visible, complete, as it merges them. */
  startStaging(): PackStaging {
    return new PackStaging(this.db, ++this.stagings, (fn) => this.transaction(fn));
  }

  /** Stores whole pack indexes, each pack marked complete in the transaction that adds its rows. */
  insertCompletePacks(packs: readonly { packId: string; entries: readonly PackEntry[] }[]): void {
    const staging = this.startStaging();
    try {
      staging.add(packs);
      staging.finish();
    } finally {
      staging.discard();
    }
  }

  /**
   * Stores rows of packs this process has just written (their index objects exist). The packs
   * stay incomplete: the next reconciliation reads their indexes to be sure nothing is missing.
   * Returns the pack numbers used.
   */
  insertWrittenChunks(rows: readonly { chunkId: Uint8Array; location: ChunkLocation }[]): Map<string, number> {
    const nums = new Map<string, number>();
    const sorted = [...rows].sort((a, b) => Buffer.compare(a.chunkId, b.chunkId));
    this.transaction(() => {
      const idsOf = new Map<number, Uint8Array[]>();
      for (const { chunkId, location } of sorted) {
        let num = nums.get(location.packId);
        if (num === undefined) {
          this.insertPack.run(location.packId);
          nums.set(location.packId, num = this.packNumberOf(location.packId)!);
        }
        this.insertChunk.run(chunkId, num, location.offsetBytes, location.lengthBytes);
        let ids = idsOf.get(num);
        if (!ids) idsOf.set(num, ids = []);
        ids.push(chunkId);
      }
      for (const [num, ids] of idsOf) this.appendPackIds.run(Buffer.concat(ids), num);
    });
    return nums;
  }

  /** Removes packs and their rows, a few packs per transaction. */
  dropPacks(nums: readonly number[]): void {
    for (let i = 0; i < nums.length; i += 16) {
      this.transaction(() => {
        for (const num of nums.slice(i, i + 16)) {
          const ids = (this.selectPackIds.get(num) as { ids: Uint8Array | null } | undefined)?.ids;
          if (ids && ids.length % ID_BYTES === 0) {
            for (let at = 0; at < ids.length; at += ID_BYTES) this.deleteChunk.run(ids.subarray(at, at + ID_BYTES), num);
          } else {
            this.deleteChunksOf.run(num); // a full scan, never expected
          }
          this.deletePack.run(num);
        }
      });
    }
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

/**
 * Whole pack indexes on their way into the cache: appended to temporary tables of this
 * connection (no lock on the cache), then merged in chunk id order in one transaction that
 * also marks their packs complete, every ROWS_PER_MERGE rows and at the end.
 */
export class PackStaging {
  private readonly db: DatabaseSync;
  private readonly transaction: (fn: () => void) => void;
  private readonly chunks: string;
  private readonly packs: string;
  private readonly stageChunk: StatementSync;
  private readonly stagePack: StatementSync;
  private rows = 0;
  private nextPack = 0;

  constructor(db: DatabaseSync, n: number, transaction: (fn: () => void) => void) {
    this.db = db;
    this.transaction = transaction;
    this.chunks = `temp.staged_chunk_${n}`;
    this.packs = `temp.staged_pack_${n}`;
    db.exec(`CREATE TABLE ${this.chunks} (k INTEGER NOT NULL, id BLOB NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL)`);
    db.exec(`CREATE TABLE ${this.packs} (k INTEGER PRIMARY KEY, id TEXT NOT NULL, ids BLOB NOT NULL, num INTEGER)`);
    this.stageChunk = db.prepare(`INSERT INTO ${this.chunks} (k, id, off, len) VALUES (?, ?, ?, ?)`);
    this.stagePack = db.prepare(`INSERT INTO ${this.packs} (k, id, ids) VALUES (?, ?, ?)`);
  }

  add(packs: readonly { packId: string; entries: readonly PackEntry[] }[]): void {
    // A plain BEGIN: only temporary tables are written, so the cache itself is not locked.
    this.db.exec('BEGIN');
    try {
      for (const { packId, entries } of packs) {
        const k = this.nextPack++;
        this.stagePack.run(k, packId, Buffer.concat(entries.map((e) => e.chunkId)));
        for (const e of entries) this.stageChunk.run(k, e.chunkId, e.offsetBytes, e.lengthBytes);
        this.rows += entries.length;
      }
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
    if (this.rows >= ROWS_PER_MERGE) this.merge();
  }

  /** Moves everything staged into the cache, marking those packs complete. */
  merge(): void {
    if (this.rows === 0) return;
    const { chunks, packs } = this;
    this.transaction(() => {
      this.db.exec(`INSERT OR IGNORE INTO main.pack (id, complete, ids) SELECT id, 0, x'' FROM ${packs}`);
      this.db.exec(`UPDATE ${packs} SET num = (SELECT num FROM main.pack WHERE main.pack.id = ${packs}.id)`);
      this.db.exec(`INSERT OR IGNORE INTO main.chunk (id, pack, off, len) SELECT c.id, p.num, c.off, c.len FROM ${chunks} c JOIN ${packs} p ON p.k = c.k ORDER BY c.id`);
      this.db.exec(`UPDATE main.pack SET complete = 1, ids = (SELECT ids FROM ${packs} p WHERE p.num = main.pack.num) WHERE num IN (SELECT num FROM ${packs})`);
    });
    this.db.exec(`DELETE FROM ${chunks}`);
    this.db.exec(`DELETE FROM ${packs}`);
    this.rows = 0;
  }

  /** Merges what is left and removes the temporary tables. */
  finish(): void {
    try {
      this.merge();
    } finally {
      this.discard();
    }
  }

  discard(): void {
    if (!this.db.isOpen) return;
    this.db.exec(`DROP TABLE IF EXISTS ${this.chunks}`);
    this.db.exec(`DROP TABLE IF EXISTS ${this.packs}`);
  }
}
