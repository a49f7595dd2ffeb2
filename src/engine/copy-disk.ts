// Copies one disk of a backup from repository A into repository B. The two repositories have
// different keys, so a chunk's id and its sealed blob mean nothing in B: each chunk is read
// from A's packs and decoded with A's key (A's worker pool), then hashed under B's key and —
// only when B's chunk table lacks that id — encoded with B's key (B's worker pool) and handed
// to B's pack writer. The result is B's own disk index of the same disk. When A and B share
// their id key (both unencrypted, or the same master secret) ids carry over unchanged, and
// chunks B already holds are not even read.

import { VmbakError } from '../core/index.ts';
import {
  DiskIndex, ZERO_CHUNK_ID, chunkKeyOf, maxBlobBytes, planBlobReads,
  type ChunkLocation, type ChunkTable, type PackWriter, type Repository,
} from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { storeBatch, sumBytes } from './batch-store.ts';
import { runLimited } from './backup-disk.ts';
import { readPackPiece } from './pack-read.ts';
import type { ProgressCounters } from './progress.ts';

const READ_BYTES = 4 << 20;

export interface DiskCopyContext {
  readonly from: Repository;
  readonly fromTable: ChunkTable;
  readonly fromPool: WorkerPool;
  readonly toPool: WorkerPool;
  readonly writer: PackWriter;
  /** True when a chunk's id is the same in both repositories. */
  readonly sameIds: boolean;
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
  readonly readsInFlight?: number;
}

export interface DiskCopyResult {
  /** The disk's index with B's chunk ids. */
  readonly index: DiskIndex;
  /** Bytes of chunk data read (and decoded) from A. */
  readonly bytesRead: number;
  /** Bytes of chunk data B lacked, encoded and written to B (before compression). */
  readonly bytesSent: number;
  /** The chunks written by this copy, for reading them back once their packs are stored. */
  readonly written: { id: Buffer; lengthBytes: number }[];
}

interface SourceChunk {
  readonly id: Buffer;
  readonly positions: number[];
  readonly lengthBytes: number;
}

/** level: zstd level for the chunks B lacks (compressionLevelFor B). */
export async function copyDiskChunks(ctx: DiskCopyContext, backupId: string, disk: string, source: DiskIndex, level: number): Promise<DiskCopyResult> {
  const index = new DiskIndex(source.sizeBytes, source.chunkSizeBytes);
  const unique = new Map<string, SourceChunk>();
  for (let i = 0; i < source.count; i++) {
    if (source.isZero(i)) { index.setId(i, ZERO_CHUNK_ID); continue; }
    const id = source.id(i);
    const k = chunkKeyOf(id);
    let c = unique.get(k);
    if (!c) unique.set(k, c = { id: Buffer.from(id), positions: [], lengthBytes: source.chunkLength(i) });
    c.positions.push(i);
  }
  const requests = [];
  for (const c of unique.values()) {
    if (ctx.sameIds && ctx.writer.knows(c.id)) { for (const p of c.positions) index.setId(p, c.id); continue; }
    const location = ctx.fromTable.get(c.id);
    if (!location) {
      throw new VmbakError('CHUNK_MISSING', { chunkId: c.id.toString('hex').slice(0, 16), backupId, disk, offset: c.positions[0]! * source.chunkSizeBytes, repo: ctx.from.displayUrl });
    }
    requests.push({ location, tag: c, plainBytes: c.lengthBytes });
  }
  ctx.progress.bytesToRead += requests.reduce((s, r) => s + r.tag.lengthBytes, 0);
  let bytesRead = 0;
  let bytesSent = 0;
  const written: { id: Buffer; lengthBytes: number }[] = [];
  await runLimited(planBlobReads(requests, READ_BYTES), ctx.readsInFlight ?? 4, ctx.signal, async (read) => {
    // The hash op splits its batch at chunk size, so the one short chunk (a disk's tail) goes last.
    const members = [...read.members].sort((a, b) => b.tag.lengthBytes - a.tag.lengthBytes);
    const plain = await decodeFromSource(ctx, backupId, disk, source.chunkSizeBytes, read, members);
    bytesRead += plain.length;
    ctx.progress.bytesRead += plain.length;
    const slot = ctx.toPool.acquireSlot(plain.length, members.length * maxBlobBytes(source.chunkSizeBytes));
    try {
      plain.copy(slot.input);
      const added = await storeBatch(ctx.toPool, ctx.writer, slot, plain.length, source.chunkSizeBytes, level, {
        setId: (k, id) => { for (const p of members[k]!.tag.positions) index.setId(p, id); },
        lengthOf: (k) => members[k]!.tag.lengthBytes,
      });
      written.push(...added);
      bytesSent += sumBytes(added);
      ctx.progress.bytesNew += sumBytes(added);
    } finally {
      ctx.toPool.releaseSlot(slot);
    }
    ctx.progress.bytesStored = ctx.writer.bytesStored;
  });
  return { index, bytesRead, bytesSent, written };
}

type Read = { packId: string; offsetBytes: number; lengthBytes: number };
type Member = { location: ChunkLocation; tag: SourceChunk };

/** Reads one ranged piece of an A pack and returns its chunks' plaintexts, concatenated in `members` order. */
async function decodeFromSource(ctx: DiskCopyContext, backupId: string, disk: string, chunkSizeBytes: number, read: Read, members: Member[]): Promise<Buffer> {
  const reply = await readPackPiece(ctx.from.target, ctx.fromPool, read, members.map((m) => ({ location: m.location, chunkId: m.tag.id, plainBytes: m.tag.lengthBytes })), 'return');
  members.forEach((m, k) => {
    const r = reply.results[k]!;
    if (typeof r === 'string' || r !== m.tag.lengthBytes) {
      throw new VmbakError('CHUNK_CORRUPT', {
        chunkId: m.tag.id.toString('hex').slice(0, 16), backupId, disk, offset: m.tag.positions[0]! * chunkSizeBytes,
        detail: typeof r === 'string' ? `${r} (in ${ctx.from.displayUrl})` : `wrong length ${r}`,
      });
    }
  });
  // Every item decoded, so the reply holds their plaintexts back to back in `members` order
  // (and a spare byte after them).
  return Buffer.from(reply.data!, 0, members.reduce((sum, m) => sum + m.tag.lengthBytes, 0));
}
