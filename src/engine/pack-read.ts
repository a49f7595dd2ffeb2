// Reading chunks out of packs: one ranged read of a pack (a piece planned by planBlobReads)
// and the authentication and decompression of the blobs in it on the worker pool. Restore,
// verify, copy, the copy's read-back and the NBD export all read chunks through here, so the
// decode request is built in one place.

import { VmbakError, transferableBuffer, type Target } from '../core/index.ts';
import { readPackRange, type ChunkLocation } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';

/** A contiguous range of one pack. */
export interface PackPiece {
  readonly packId: string;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

/** A chunk blob inside a piece. */
export interface BlobInPiece {
  /** Where the blob lies in its pack (not in the piece). */
  readonly location: ChunkLocation;
  readonly chunkId: Uint8Array;
  /** The chunk's length decoded. */
  readonly plainBytes: number;
  /** With a file output: where the chunk goes in the file. */
  readonly diskOffsetBytes?: number;
}

/** 'return' hands back the decoded chunks, 'discard' only checks them, a path has the worker write them there. */
export type DecodeOutput = 'return' | 'discard' | { readonly path: string };

export interface DecodedPiece {
  /** Per blob, in the order given: its decoded length, or why it is damaged. */
  readonly results: readonly (number | string)[];
  /** 'return' only: the decoded chunks back to back, in the order given, then one spare byte (room zstd decodes in place with). */
  readonly data: ArrayBuffer | null;
  /** File output only: why writing failed. */
  readonly writeError?: string;
}

/** Reads `piece` from the target and decodes `blobs` out of it. */
export async function readPackPiece(target: Target, pool: WorkerPool, piece: PackPiece, blobs: readonly BlobInPiece[], output: DecodeOutput): Promise<DecodedPiece> {
  return decodePackPiece(pool, piece, await readPackRange(target, piece.packId, piece.offsetBytes, piece.lengthBytes), blobs, output);
}

/** Decodes `blobs` out of `data`, the bytes of `piece` already read. */
export async function decodePackPiece(pool: WorkerPool, piece: PackPiece, data: Buffer, blobs: readonly BlobInPiece[], output: DecodeOutput): Promise<DecodedPiece> {
  const items = blobs.map((b) => ({
    offsetBytes: b.location.offsetBytes - piece.offsetBytes, lengthBytes: b.location.lengthBytes,
    // A copy: a view into a disk index would send the whole index to the worker.
    chunkId: new Uint8Array(b.chunkId), plainBytes: b.plainBytes, diskOffsetBytes: b.diskOffsetBytes,
  }));
  const ab = transferableBuffer(data);
  const reply = await pool.run(pool.pick(), { op: 'decode', jobId: pool.newJobId(), data: ab, items, output }, [ab]);
  if (reply.op !== 'decode') throw new VmbakError('INTERNAL', { detail: 'unexpected worker reply' });
  return reply;
}
