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
import { DiskIndex, ZERO_CHUNK_ID, type PackWriter } from '../repository/index.ts';
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
  private toReadLater: number[] = [];

  constructor(pool: WorkerPool, writer: PackWriter, sizeBytes: number, chunkSizeBytes: number, base: DiskIndex | null) {
    this.pool = pool;
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
    const own = new ArrayBuffer(data.length);
    new Uint8Array(own).set(data);
    return this.store(first, own).catch((err: unknown) => this.fail(err));
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

  private async store(first: number, data: ArrayBuffer): Promise<void> {
    const worker = this.pool.pick();
    const jobId = this.pool.newJobId();
    const count = Math.ceil(data.byteLength / this.index.chunkSizeBytes);
    const hashed = await this.pool.run(worker, { op: 'hash', jobId, data, chunkSizeBytes: this.index.chunkSizeBytes, keep: true }, [data]);
    if (hashed.op !== 'hash') throw new VmbakError('INTERNAL', { detail: 'unexpected worker reply' });
    const ids = Buffer.from(hashed.ids);
    const toEncode: number[] = [];
    for (let n = 0; n < count; n++) {
      const id = hashed.zero[n] ? ZERO_CHUNK_ID : ids.subarray(n * 32, n * 32 + 32);
      this.index.setId(first + n, id);
      if (hashed.zero[n] || this.writer.knows(id)) continue;
      this.writer.reserve(id);
      toEncode.push(n);
    }
    const wanted = Buffer.concat(toEncode.map((n) => ids.subarray(n * 32, n * 32 + 32)));
    const encoded = await this.pool.run(worker, { op: 'encode', jobId, indices: toEncode, ids: wanted.buffer.slice(wanted.byteOffset, wanted.byteOffset + wanted.length) as ArrayBuffer });
    if (encoded.op !== 'encode') throw new VmbakError('INTERNAL', { detail: 'unexpected worker reply' });
    const blobs = Buffer.from(encoded.blobs);
    let at = 0;
    for (let k = 0; k < toEncode.length; k++) {
      const n = toEncode[k]!;
      this.bytesNew += this.index.chunkLength(first + n);
      await this.writer.add(Buffer.from(ids.subarray(n * 32, n * 32 + 32)), blobs.subarray(at, at + encoded.blobBytes[k]!));
      at += encoded.blobBytes[k]!;
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
