// Worker thread body: the CPU work of the pipelines (chunk ids, zero detection, zstd, AES-GCM).
// A batch is a contiguous, chunk-aligned run of a disk. `hash` keeps the batch so that the
// following `encode` of the same job (only the chunks the repository lacks) needs no second
// transfer; `encode` with no indices just releases it.

import { parentPort, workerData } from 'node:worker_threads';
import { splitMasterSecret, computeChunkId, encodeChunk, decodeChunk } from '../repository/index.ts';
import { closeSync, openSync, writevSync } from 'node:fs';
import type { DecodeItem, WorkerRequest, WorkerReply } from './worker-protocol.ts';

const { secret, compressionLevel } = workerData as { secret: Uint8Array | null; compressionLevel: number };
const keys = secret ? splitMasterSecret(Buffer.from(secret)) : null;
const held = new Map<number, { data: Buffer; chunkSizeBytes: number }>();
let zeros = Buffer.alloc(0);

function isAllZero(piece: Buffer): boolean {
  if (zeros.length < piece.length) zeros = Buffer.alloc(piece.length);
  return piece.equals(zeros.subarray(0, piece.length));
}

function pieceOf(data: Buffer, chunkSizeBytes: number, index: number): Buffer {
  return data.subarray(index * chunkSizeBytes, Math.min(data.length, (index + 1) * chunkSizeBytes));
}

function handle(req: WorkerRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  switch (req.op) {
    case 'hash': {
      const data = Buffer.from(req.data, 0, req.lengthBytes ?? req.data.byteLength);
      const count = Math.ceil(data.length / req.chunkSizeBytes);
      const ids = Buffer.alloc(count * 32);
      const zero = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const piece = pieceOf(data, req.chunkSizeBytes, i);
        if (isAllZero(piece)) zero[i] = 1;
        else computeChunkId(keys, piece).copy(ids, i * 32);
      }
      if (req.keep) held.set(req.jobId, { data, chunkSizeBytes: req.chunkSizeBytes });
      return { reply: { op: 'hash', jobId: req.jobId, ids: ids.buffer as ArrayBuffer, zero }, transfer: [ids.buffer as ArrayBuffer] };
    }
    case 'encode': {
      const batch = held.get(req.jobId);
      held.delete(req.jobId);
      if (!batch) throw new Error(`encode of unknown job ${req.jobId}`);
      const ids = Buffer.from(req.ids);
      const encoded = req.indices.map((index, n) =>
        encodeChunk(keys, ids.subarray(n * 32, n * 32 + 32), pieceOf(batch.data, batch.chunkSizeBytes, index), compressionLevel));
      // One buffer for all blobs: one allocation and one transfer instead of one per chunk.
      const blobs = toArrayBuffer(Buffer.concat(encoded));
      const data = batch.data.buffer as ArrayBuffer;
      return { reply: { op: 'encode', jobId: req.jobId, blobs, blobBytes: encoded.map((b) => b.length), data }, transfer: [blobs, data] };
    }
    case 'decode': {
      const data = Buffer.from(req.data);
      const decoded = req.items.map((item) => decodeChunk(keys, Buffer.from(item.chunkId), data.subarray(item.offsetBytes, item.offsetBytes + item.lengthBytes), item.plainBytes));
      const results = decoded.map((d, k) => (typeof d === 'string' ? d : d.length === req.items[k]!.plainBytes ? d.length : `wrong length ${d.length}`));
      let writeError: string | undefined;
      if (typeof req.output === 'object') {
        try {
          writeAtOffsets(req.output.path, req.items, decoded, results);
        } catch (err) {
          writeError = err instanceof Error ? err.message : String(err);
        }
      }
      if (req.output !== 'return') return { reply: { op: 'decode', jobId: req.jobId, results, data: null, writeError }, transfer: [] };
      const out = toArrayBuffer(Buffer.concat(decoded.filter((d): d is Buffer => typeof d !== 'string')));
      return { reply: { op: 'decode', jobId: req.jobId, results, data: out }, transfer: [out] };
    }
  }
}

/** Writes the good chunks where they belong; neighbours on disk go out in one write. */
function writeAtOffsets(path: string, items: readonly DecodeItem[], decoded: readonly (Buffer | string)[], results: readonly (number | string)[]): void {
  if (results.some((r) => typeof r === 'string')) return; // the restore fails; nothing to write
  const fd = openSync(path, 'r+');
  try {
    let k = 0;
    while (k < items.length) {
      const run: Buffer[] = [decoded[k] as Buffer];
      const start = items[k]!.diskOffsetBytes!;
      let end = start + run[0]!.length;
      while (k + run.length < items.length && items[k + run.length]!.diskOffsetBytes === end) {
        const next = decoded[k + run.length] as Buffer;
        run.push(next);
        end += next.length;
      }
      writevSync(fd, run, start);
      k += run.length;
    }
  } finally {
    closeSync(fd);
  }
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  // A Buffer may be a view into a shared pool; transfer needs a buffer of its own.
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength) return buf.buffer as ArrayBuffer;
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}


parentPort!.on('message', (req: WorkerRequest) => {
  try {
    const { reply, transfer } = handle(req);
    parentPort!.postMessage(reply, transfer);
  } catch (err) {
    parentPort!.postMessage({ op: 'error', jobId: req.jobId, message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply);
  }
});
