// Worker thread body: the CPU work of the pipelines (chunk ids, zero detection, zstd, AES-GCM).
// A batch is a contiguous, chunk-aligned run of a disk. `hash` keeps the batch so that the
// following `encode` of the same job (only the chunks the repository lacks) needs no second
// transfer; `encode` with no indices just releases it. Backups pass batches in shared slots
// (registered once) rather than transferring buffers: a transfer is a fresh allocation on the
// receiving side, and that churn made garbage collection the largest cost after zstd.

import { parentPort } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { splitMasterSecret, computeChunkId, encodeChunkInto, decodeChunkInto } from '../repository/thread-entry.ts';
import { closeSync, openSync, writeSync } from 'node:fs';
import { releaseBuffer } from '../core/index.ts';
import type { DecodeItem, InitMessage, SlotMessage, WorkerRequest, WorkerReply } from './worker-protocol.ts';

// zstd and AES-GCM hand back a new buffer for every chunk. Left to V8, that garbage piles up
// to ~100 MiB per worker before a full collection marks the whole heap; a minor collection
// every few MiB frees it for a fraction of a millisecond, keeping both memory and GC time low.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as (options: { type: 'minor' }) => void;
const COLLECT_EVERY_BYTES = 4 << 20;
let allocatedBytes = 0;

function allocated(bytes: number): void {
  allocatedBytes += bytes;
  if (allocatedBytes < COLLECT_EVERY_BYTES) return;
  allocatedBytes = 0;
  collectGarbage({ type: 'minor' });
}

// Set by the init message, which comes before any request.
let keys: ReturnType<typeof splitMasterSecret> | null = null;
const slots = new Map<number, { input: Buffer; output: Buffer }>();
const held = new Map<number, { data: Buffer; chunkSizeBytes: number; slot: number | null }>();
let zeros = Buffer.alloc(0);

function isAllZero(piece: Buffer): boolean {
  if (zeros.length < piece.length) zeros = Buffer.alloc(piece.length);
  return piece.equals(zeros.subarray(0, piece.length));
}

function pieceOf(data: Buffer, chunkSizeBytes: number, index: number): Buffer {
  return data.subarray(index * chunkSizeBytes, Math.min(data.length, (index + 1) * chunkSizeBytes));
}

function batchOf(req: Extract<WorkerRequest, { op: 'hash' }>): Buffer {
  if (req.slot !== undefined) {
    const slot = slots.get(req.slot);
    if (!slot) throw new Error(`unknown slot ${req.slot}`);
    return slot.input.subarray(0, req.lengthBytes ?? slot.input.length);
  }
  if (!req.data) throw new Error('hash without data');
  return Buffer.from(req.data, 0, req.lengthBytes ?? req.data.byteLength);
}

function handle(req: WorkerRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  switch (req.op) {
    case 'hash': {
      const data = batchOf(req);
      const count = Math.ceil(data.length / req.chunkSizeBytes);
      const ids = Buffer.alloc(count * 32);
      const zero = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const piece = pieceOf(data, req.chunkSizeBytes, i);
        if (isAllZero(piece)) zero[i] = 1;
        else computeChunkId(keys, piece).copy(ids, i * 32);
      }
      if (req.keep) held.set(req.jobId, { data, chunkSizeBytes: req.chunkSizeBytes, slot: req.slot ?? null });
      return { reply: { op: 'hash', jobId: req.jobId, ids: ids.buffer as ArrayBuffer, zero }, transfer: [ids.buffer as ArrayBuffer] };
    }
    case 'encode': {
      const batch = held.get(req.jobId);
      held.delete(req.jobId);
      if (!batch) throw new Error(`encode of unknown job ${req.jobId}`);
      const ids = Buffer.from(req.ids);
      const idOf = (n: number) => ids.subarray(n * 32, n * 32 + 32);
      // Only batches in a slot are encoded: the blobs go to the slot's output.
      if (batch.slot === null) throw new Error(`encode of job ${req.jobId}, whose batch is not in a slot`);
      const out = slots.get(batch.slot)!.output;
      let at = 0;
      const blobBytes = req.indices.map((index, n) => {
        const piece = pieceOf(batch.data, batch.chunkSizeBytes, index);
        const written = encodeChunkInto(keys, idOf(n), piece, req.level, out, at);
        allocated(written);
        at += written;
        return written;
      });
      return { reply: { op: 'encode', jobId: req.jobId, blobBytes }, transfer: [] };
    }
    case 'decode': {
      const data = Buffer.from(req.data);
      const totalBytes = req.items.reduce((sum, item) => sum + item.plainBytes, 0);
      // Chunks are decoded back to back into one buffer: a fresh one when it goes back to the
      // caller, otherwise this thread's, reused from request to request. Its byte past the
      // end lets zstd decompress each chunk in place (see decodeChunkInto).
      const plain = req.output === 'return' ? Buffer.from(new ArrayBuffer(totalBytes + 1)) : decodeBuffer(totalBytes + 1);
      let at = 0;
      const results = req.items.map((item) => {
        allocated(item.lengthBytes);
        const blob = data.subarray(item.offsetBytes, item.offsetBytes + item.lengthBytes);
        const problem = decodeChunkInto(keys, Buffer.from(item.chunkId), blob, item.plainBytes, plain, at);
        at += item.plainBytes;
        return problem ?? item.plainBytes;
      });
      releaseBuffer(data);
      let writeError: string | undefined;
      if (typeof req.output === 'object' && results.every((r) => typeof r === 'number')) {
        try {
          writeAtOffsets(req.output.path, req.items, plain);
        } catch (err) {
          writeError = err instanceof Error ? err.message : String(err);
        }
      }
      if (req.output !== 'return') return { reply: { op: 'decode', jobId: req.jobId, results, data: null, writeError }, transfer: [] };
      const out = plain.buffer as ArrayBuffer;
      return { reply: { op: 'decode', jobId: req.jobId, results, data: out }, transfer: [out] };
    }
  }
}

let decodeScratch = Buffer.alloc(0);

function decodeBuffer(bytes: number): Buffer {
  if (decodeScratch.length < bytes) decodeScratch = Buffer.allocUnsafe(bytes);
  return decodeScratch;
}

/** Writes the chunks, laid back to back in `plain`, at their disk offsets; neighbours on disk go out in one write. */
function writeAtOffsets(path: string, items: readonly DecodeItem[], plain: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    let k = 0;
    let at = 0;
    while (k < items.length) {
      const start = items[k]!.diskOffsetBytes!;
      let bytes = items[k]!.plainBytes;
      let n = 1;
      while (k + n < items.length && items[k + n]!.diskOffsetBytes === start + bytes) bytes += items[k + n++]!.plainBytes;
      writeFully(fd, plain.subarray(at, at + bytes), start);
      at += bytes;
      k += n;
    }
  } finally {
    closeSync(fd);
  }
}

function writeFully(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}



parentPort!.on('message', (req: WorkerRequest | SlotMessage | InitMessage) => {
  if (req.op === 'init') {
    keys = req.secret ? splitMasterSecret(Buffer.from(req.secret)) : null;
    return;
  }
  if (req.op === 'slot') {
    slots.set(req.slot, { input: Buffer.from(req.input), output: Buffer.from(req.output) });
    return;
  }
  try {
    const { reply, transfer } = handle(req);
    parentPort!.postMessage(reply, transfer);
  } catch (err) {
    parentPort!.postMessage({ op: 'error', jobId: req.jobId, message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
  }
});
