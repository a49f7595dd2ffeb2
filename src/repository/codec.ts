// How bytes are turned into what is stored: chunk blobs and sealed metadata objects.
// Pure functions of their inputs and keys, so the worker pool can run them.
//
// Chunk blob, plaintext form: 1 byte payload type (0 stored as is, 1 zstd) ‖ payload.
// Encrypted repositories store AES-256-GCM(nonce ‖ ciphertext ‖ tag) of that, with the chunk
// id as associated data; unencrypted ones store it as is and are checked by SHA-256 on read.
// Sealed object (manifests, disk indexes, pack indexes): zstd(data), then AES-256-GCM with the
// object's name as associated data, or in unencrypted repositories SHA-256(name ‖ zstd(data)) ‖ zstd(data).

import { constants, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { compressFrame, decompressFrame, decompressFrameInto } from './zstd-context.ts';
import { copyBytes, releaseBuffer } from '../core/index.ts';
import { chunkIdOf, seal, sealInto, sha256, unseal, SEAL_OVERHEAD_BYTES, type MasterKeys } from './crypto.ts';

const PAYLOAD_RAW = 0;
const PAYLOAD_ZSTD = 1;
/** Stored compressed only when that saves at least this fraction; random data is stored as is. */
const MIN_SAVING = 1 / 32;

export function compress(data: Uint8Array, level: number): Buffer {
  // Declaring the input size lets zstd size its context for this chunk rather than for its
  // default window (MBs per call), and one output buffer of the input's size avoids regrowth.
  return zstdCompressSync(data, {
    pledgedSrcSize: data.length,
    chunkSize: Math.max(1024, data.length + 1024),
    params: { [constants.ZSTD_c_compressionLevel]: level },
  });
}

export function decompress(data: Uint8Array): Buffer {
  return zstdDecompressSync(data);
}

export function computeChunkId(keys: MasterKeys | null, data: Uint8Array): Buffer {
  return chunkIdOf(keys ? keys.idKey : null, data);
}

export function encodeChunk(keys: MasterKeys | null, chunkId: Uint8Array, data: Uint8Array, level: number): Buffer {
  const out = Buffer.allocUnsafe(maxBlobBytes(data.length));
  return out.subarray(0, encodeChunkInto(keys, chunkId, data, level, out, 0));
}

/** The largest blob a chunk of this size can become (stored raw, with the seal's overhead). */
export function maxBlobBytes(chunkBytes: number): number {
  return 1 + chunkBytes + SEAL_OVERHEAD_BYTES;
}

const PAYLOAD_TYPE = [Buffer.from([PAYLOAD_RAW]), Buffer.from([PAYLOAD_ZSTD])];

/** encodeChunk() written into `out` at `at` (room for maxBlobBytes needed); returns the blob's length. */
export function encodeChunkInto(keys: MasterKeys | null, chunkId: Uint8Array, data: Uint8Array, level: number, out: Buffer, at: number): number {
  const packed = compressFrame(data, level);
  const useZstd = packed.length < data.length * (1 - MIN_SAVING);
  const body = useZstd ? packed : data;
  const type = PAYLOAD_TYPE[useZstd ? PAYLOAD_ZSTD : PAYLOAD_RAW]!;
  if (keys) return sealInto(keys.encryptionKey, [type, body], chunkId, out, at);
  out[at] = type[0]!;
  copyBytes(body, out, at + 1);
  return body.length + 1;
}

/**
 * The chunk's data, exactly plainBytes of it, written into `out` at `at`; returns null, or
 * the reason it is not the chunk it claims to be (out may then hold anything there). Given a
 * byte of room past the chunk (which may be overwritten), it decompresses in place.
 */
export function decodeChunkInto(keys: MasterKeys | null, chunkId: Uint8Array, blob: Uint8Array, plainBytes: number, out: Buffer, at: number): string | null {
  const plain = keys ? unseal(keys.encryptionKey, blob, Buffer.from(chunkId)) : Buffer.from(blob.buffer, blob.byteOffset, blob.length);
  if (!plain) return 'authentication failed';
  if (plain.length < 1) return 'empty blob';
  const problem = unpackPayload(plain, plainBytes, out, at);
  // The decrypted copy is this call's own; the unencrypted blob belongs to the caller.
  if (keys) releaseBuffer(plain);
  if (problem) return problem;
  // Under encryption the GCM tag over the chunk id already proves origin and integrity.
  if (!keys && !sha256(out.subarray(at, at + plainBytes)).equals(Buffer.from(chunkId))) return 'content does not match its id';
  return null;
}

function unpackPayload(plain: Buffer, plainBytes: number, out: Buffer, at: number): string | null {
  if (plain[0] === PAYLOAD_ZSTD) {
    // With a byte of room past the chunk, zstd writes into out itself (no copy).
    if (out.length > at + plainBytes) {
      if (!decompressFrameInto(plain.subarray(1), plainBytes, out, at)) return 'does not decompress to its length';
    } else {
      const data = decompressFrame(plain.subarray(1), plainBytes);
      if (!data) return 'does not decompress to its length';
      data.copy(out, at);
    }
  } else if (plain[0] === PAYLOAD_RAW) {
    if (plain.length - 1 !== plainBytes) return `wrong length ${plain.length - 1}`;
    plain.copy(out, at, 1);
  } else {
    return `unknown payload type ${plain[0]}`;
  }
  return null;
}

/** Returns the chunk's data (plainBytes of it), or a reason it is not the chunk it claims to be. */
export function decodeChunk(keys: MasterKeys | null, chunkId: Uint8Array, blob: Uint8Array, plainBytes: number): Buffer | string {
  const out = Buffer.allocUnsafe(plainBytes);
  return decodeChunkInto(keys, chunkId, blob, plainBytes, out, 0) ?? out;
}

export function sealObject(keys: MasterKeys | null, data: Uint8Array, name: string): Buffer {
  const packed = compress(data, 3);
  if (keys) return seal(keys.encryptionKey, packed, name);
  return Buffer.concat([sha256(Buffer.concat([Buffer.from(name), packed])), packed]);
}

/** The object's data, or null when it is damaged, not authentic, or not the object named. */
export function openObject(keys: MasterKeys | null, blob: Uint8Array, name: string): Buffer | null {
  let packed: Buffer | null;
  if (keys) {
    packed = unseal(keys.encryptionKey, blob, name);
  } else {
    const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.length);
    packed = buf.length >= 32 && sha256(Buffer.concat([Buffer.from(name), buf.subarray(32)])).equals(buf.subarray(0, 32)) ? buf.subarray(32) : null;
  }
  if (!packed) return null;
  try {
    return decompress(packed);
  } catch {
    return null;
  }
}
