// One disk's side stream into a second repository during a backup (`backup --copy-to`): every
// batch the primary pipeline reads is also hashed and encoded under the copy repository's key
// (its own worker pool, chunk table, pack writer and index), so the VM is read once. A sink
// never throws into the primary pipeline: its first failure is kept, later batches are ignored,
// and the copy is reported missing while the primary backup goes on.
//
// Chunks the primary did not read (unchanged since its previous backup) take their ids from the
// copy's own previous index when that index was taken at the same checkpoint; otherwise the
// sink reads them from the source itself at the end (extra reads for the copy only).

import { VmbakError, describeError, type DiskSource } from '../core/index.ts';
import { DiskIndex, maxBlobBytes, type PackWriter } from '../repository/index.ts';
import { indexChunks, storeBatch, sumBytes } from './batch-store.ts';
import type { WorkerPool } from './worker-pool.ts';
import { CHUNK_UNCHANGED } from './read-plan.ts';

const BATCH_BYTES = 4 << 20;

/** What backupDisk hands to a side stream: the read plan once, then each batch as read. */
export interface DiskTee {
  begin(state: Uint8Array): void;
  /** Copies `data` before returning its promise (the caller's buffer moves on); never rejects. */
  batch(first: number, data: Buffer): Promise<void>;
}

export class DiskCopySink implements DiskTee {
  readonly index: DiskIndex;
  bytesNew = 0;
  failure: VmbakError | null = null;
  private readonly pool: WorkerPool;
  private readonly writer: PackWriter;
  private readonly base: DiskIndex | null;
  private readonly compressionLevel: number;
  private toReadLater: number[] = [];

  constructor(pool: WorkerPool, writer: PackWriter, sizeBytes: number, chunkSizeBytes: number, base: DiskIndex | null, compressionLevel: number) {
    this.pool = pool;
    this.compressionLevel = compressionLevel;
    this.writer = writer;
    this.base = base;
    this.index = new DiskIndex(sizeBytes, chunkSizeBytes);
  }

  fail(err: unknown): void {
    this.failure ??= err instanceof VmbakError ? err : new VmbakError('INTERNAL', { detail: describeError(err) });
  }

  begin(state: Uint8Array): void {
    for (let i = 0; i < state.length; i++) {
      if (state[i] !== CHUNK_UNCHANGED) continue;
      if (this.base) this.index.setId(i, this.base.id(i));
      else this.toReadLater.push(i);
    }
  }

  batch(first: number, data: Buffer): Promise<void> {
    if (this.failure) return Promise.resolve();
    const chunk = this.index.chunkSizeBytes;
    const slot = this.pool.acquireSlot(data.length, Math.ceil(data.length / chunk) * maxBlobBytes(chunk));
    data.copy(slot.input);
    return storeBatch(this.pool, this.writer, slot, data.length, chunk, this.compressionLevel, indexChunks(this.index, first))
      .then((added) => { this.bytesNew += sumBytes(added); }, (err: unknown) => this.fail(err))
      .finally(() => this.pool.releaseSlot(slot));
  }

  /** Reads the chunks neither the primary read nor the base gives; then the index is complete. */
  async fillFromSource(source: DiskSource): Promise<void> {
    const chunk = this.index.chunkSizeBytes;
    const perBatch = Math.max(1, Math.floor(BATCH_BYTES / chunk));
    const pending = this.toReadLater;
    this.toReadLater = [];
    for (let k = 0; k < pending.length && !this.failure;) {
      const first = pending[k]!;
      let count = 1;
      while (k + count < pending.length && pending[k + count] === first + count && count < perBatch) count++;
      k += count;
      const offset = first * chunk;
      const data = await source.read(offset, Math.min(count * chunk, this.index.sizeBytes - offset));
      await this.batch(first, data);
    }
  }
}

/** One tee feeding several sinks. */
export function teeToAll(sinks: readonly DiskTee[]): DiskTee | undefined {
  if (sinks.length === 0) return undefined;
  return {
    begin: (state) => { for (const s of sinks) s.begin(state); },
    batch: async (first, data) => { await Promise.all(sinks.map((s) => s.batch(first, data))); },
  };
}
