// One batch into the repository: the workers hash it in its shared slot, every chunk's id is
// handed back to the caller, and only the chunks the pack writer does not know are encoded
// and added. The backup pipeline, the --copy-to side streams and `copy` share this step.

import { VmbakError } from '../core/index.ts';
import { ZERO_CHUNK_ID, type PackWriter } from '../repository/index.ts';
import type { BatchSlot, WorkerPool } from './worker-pool.ts';

/** Where a batch's chunks go: their ids (ZERO_CHUNK_ID when all zero) and their sizes. */
export interface BatchChunks {
  setId(n: number, id: Buffer): void;
  lengthOf(n: number): number;
}

export interface NewChunk {
  readonly id: Buffer;
  readonly lengthBytes: number;
}

/** Stores the chunks held in slot.input[0, lengthBytes), new ones compressed at zstd `level`; returns those that were new. */
export async function storeBatch(
  pool: WorkerPool, writer: PackWriter, slot: BatchSlot, lengthBytes: number, chunkSizeBytes: number, level: number, chunks: BatchChunks,
): Promise<NewChunk[]> {
  const count = Math.ceil(lengthBytes / chunkSizeBytes);
  const worker = pool.pick();
  const jobId = pool.newJobId();
  const hashed = await pool.run(worker, { op: 'hash', jobId, slot: slot.id, lengthBytes, chunkSizeBytes, keep: true });
  if (hashed.op !== 'hash') throw new VmbakError('INTERNAL', { detail: 'unexpected worker reply' });
  const ids = Buffer.from(hashed.ids);
  const idOf = (n: number) => ids.subarray(n * 32, n * 32 + 32);
  const toEncode: number[] = [];
  for (let n = 0; n < count; n++) {
    if (hashed.zero[n]) {
      chunks.setId(n, ZERO_CHUNK_ID);
      continue;
    }
    const id = idOf(n);
    chunks.setId(n, id);
    if (!writer.knows(id)) {
      writer.reserve(id);
      toEncode.push(n);
    }
  }
  const wanted = Buffer.concat(toEncode.map(idOf));
  const encoded = await pool.run(worker, { op: 'encode', jobId, indices: toEncode, ids: wanted.buffer.slice(wanted.byteOffset, wanted.byteOffset + wanted.length) as ArrayBuffer, level });
  if (encoded.op !== 'encode') throw new VmbakError('INTERNAL', { detail: 'unexpected worker reply' });
  const added: NewChunk[] = [];
  let at = 0;
  for (let k = 0; k < toEncode.length; k++) {
    const n = toEncode[k]!;
    const blobBytes = encoded.blobBytes[k]!;
    const id = Buffer.from(idOf(n));
    // The writer copies the blob: the slot is reused as soon as this batch is done.
    await writer.add(id, slot.output.subarray(at, at + blobBytes));
    at += blobBytes;
    added.push({ id, lengthBytes: chunks.lengthOf(n) });
  }
  return added;
}

/** The chunks of a batch that starts at chunk `first` of a disk index. */
export function indexChunks(index: { setId(i: number, id: Uint8Array): void; chunkLength(i: number): number }, first: number): BatchChunks {
  return { setId: (n, id) => index.setId(first + n, id), lengthOf: (n) => index.chunkLength(first + n) };
}

export function sumBytes(chunks: readonly NewChunk[]): number {
  return chunks.reduce((s, c) => s + c.lengthBytes, 0);
}
