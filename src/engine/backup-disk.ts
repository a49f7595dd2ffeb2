// The backup pipeline for one disk: source reads → workers hash (and detect zeros) → only
// chunks the repository lacks are compressed and encrypted → pack writer. Several batches
// are in flight at once so reading, hashing and uploading overlap; the in-flight limit is the
// back-pressure that keeps memory independent of the disk's size.

import type { DiskSource } from '../core/index.ts';
import { DiskIndex, maxBlobBytes, type PackWriter } from '../repository/index.ts';
import { indexChunks, storeBatch, sumBytes } from './batch-store.ts';
import type { WorkerPool } from './worker-pool.ts';
import { CHUNK_READ, CHUNK_UNCHANGED, planDiskRead, readRuns } from './read-plan.ts';
import type { DiskProgress, ProgressCounters } from './progress.ts';
import type { PauseGate } from './pause-gate.ts';
import type { DiskTee } from './fan-out-sink.ts';

// Eight 2 MiB batches in flight: a cold disk answers with the depth of its queue (qemu-nbd
// read a cold 4 GiB image at 0.44 GB/s with four 4 MiB reads outstanding, 0.86 GB/s with eight
// of 2 MiB, the same 1.4 GB/s either way from the page cache); the bytes in flight, and so the
// slots' memory, stay 16 MiB.
const BATCH_BYTES = 2 << 20;
const BATCHES_IN_FLIGHT = 8;

export interface DiskBackupContext {
  readonly pool: WorkerPool;
  readonly writer: PackWriter;
  readonly chunkSizeBytes: number;
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
  readonly batchesInFlight?: number;
  /** While paused, no new read starts. */
  readonly gate?: PauseGate;
  /** A side stream (backup --copy-to) that sees the read plan and every batch read. */
  readonly tee?: DiskTee;
  /** This disk's own counters (its bar on the job's page), counted beside the job's. */
  readonly diskProgress?: DiskProgress;
}

export interface DiskBackupInput {
  readonly source: DiskSource;
  /** The same disk's index in the previous backup of this VM, when sizes and chunking match. */
  readonly previous: DiskIndex | null;
  /** True when source.mapDirty reports changes since `previous` was taken. */
  readonly useDirtyMap: boolean;
  /** zstd level for the chunks the repository lacks (compressionLevelFor). */
  readonly compressionLevel: number;
}

export interface DiskBackupResult {
  readonly index: DiskIndex;
  readonly bytesRead: number;
  /** Bytes of chunks the repository did not hold (before compression). */
  readonly bytesNew: number;
  readonly bytesChanged: number | null;
}

export async function backupDisk(ctx: DiskBackupContext, input: DiskBackupInput): Promise<DiskBackupResult> {
  const { source, previous } = input;
  const chunkSizeBytes = ctx.chunkSizeBytes;
  const useDirtyMap = input.useDirtyMap && previous !== null;
  const plan = await planDiskRead(source, chunkSizeBytes, useDirtyMap);
  const index = new DiskIndex(source.sizeBytes, chunkSizeBytes);
  for (let i = 0; i < index.count; i++) {
    if (plan.state[i] === CHUNK_UNCHANGED) index.setId(i, previous!.id(i));
  }
  let bytesRead = 0;
  let bytesNew = 0;
  let bytesToRead = 0;
  for (let i = 0; i < index.count; i++) if (plan.state[i] === CHUNK_READ) bytesToRead += index.chunkLength(i);
  ctx.progress.bytesToRead += bytesToRead;
  if (ctx.diskProgress) ctx.diskProgress.bytesToRead = bytesToRead;
  ctx.tee?.begin(plan.state);

  const inFlight = ctx.batchesInFlight ?? BATCHES_IN_FLIGHT;
  const runChunks = Math.max(1, Math.floor(BATCH_BYTES / chunkSizeBytes));
  const processRun = async (first: number, count: number): Promise<void> => {
    const offset = first * chunkSizeBytes;
    const length = Math.min(count * chunkSizeBytes, source.sizeBytes - offset);
    // Slots are shared with the workers and recycled: the pipeline allocates nothing per batch.
    const slot = ctx.pool.acquireSlot(runChunks * chunkSizeBytes, runChunks * maxBlobBytes(chunkSizeBytes));
    try {
      const data = await source.read(offset, length, slot.input.subarray(0, length));
      // A source may ignore `into` and return its own buffer.
      if (data.buffer !== slot.input.buffer || data.byteOffset !== slot.input.byteOffset) data.copy(slot.input, 0, 0, length);
      bytesRead += length;
      ctx.progress.bytesRead += length;
      if (ctx.diskProgress) ctx.diskProgress.bytesRead += length;
      // The tee copies the batch before its promise is returned; it never rejects.
      const teed = ctx.tee?.batch(first, slot.input.subarray(0, length));
      const stored = sumBytes(await storeBatch(ctx.pool, ctx.writer, slot, length, chunkSizeBytes, input.compressionLevel, indexChunks(index, first)));
      bytesNew += stored;
      ctx.progress.bytesNew += stored;
      ctx.progress.bytesStored = ctx.writer.bytesStored;
      await teed;
    } finally {
      ctx.pool.releaseSlot(slot);
    }
  };

  await runLimited(readRuns(plan.state, runChunks), inFlight, ctx.signal,
    async (run) => {
      await ctx.gate?.wait(ctx.signal);
      await processRun(run.first, run.count);
    });

  if (ctx.diskProgress) ctx.diskProgress.finishedMs = Date.now();
  let bytesChanged = plan.bytesChanged;
  if (bytesChanged === null && previous) {
    bytesChanged = 0;
    for (let i = 0; i < index.count; i++) if (!index.id(i).equals(previous.id(i))) bytesChanged += index.chunkLength(i);
  }
  return { index, bytesRead, bytesNew, bytesChanged };
}

/** Feeds items to fn with at most `limit` in flight; stops at the first error or on abort. */
export async function runLimited<T>(items: Iterable<T>, limit: number, signal: AbortSignal, fn: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: unknown = null;
  try {
    for (const item of items) {
      if (failure) break;
      if (signal.aborted) { failure = signal.reason; break; }
      while (running.size >= limit) await Promise.race(running);
      if (failure) break;
      const p: Promise<void> = fn(item).catch((err: unknown) => { failure ??= err; }).finally(() => running.delete(p));
      running.add(p);
    }
  } catch (err) {
    // The items may be produced as they are taken (a generator): its failure still waits for
    // the calls in flight.
    failure ??= err;
  }
  await Promise.all(running);
  if (!failure && signal.aborted) failure = signal.reason;
  if (failure) throw failure;
}
