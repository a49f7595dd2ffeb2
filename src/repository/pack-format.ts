// Pack files: many chunk blobs in one object, so small chunks do not mean millions of tiny
// objects on remote targets. Layout: blob ‖ blob ‖ … ‖ sealed header ‖ u32le header length.
// The header lists, per blob: chunk id (32 bytes) ‖ u32le offset ‖ u32le length. The same
// sealed header is also stored as index/<packId>, so opening a repository reads the small
// index objects and never the packs; `check` can rebuild an index from its pack's trailer.
// The pack id is the SHA-256 of the whole pack, so a pack's integrity can be checked without keys.

import type { MasterKeys } from './crypto.ts';
import { openObject, sealObject } from './codec.ts';

export const PACK_HEADER_NAME = 'pack-header';
const ENTRY_BYTES = 40;

export interface PackEntry {
  readonly chunkId: Buffer;
  readonly offsetBytes: number;
  readonly lengthBytes: number;
}

export function encodePackHeader(keys: MasterKeys | null, entries: readonly PackEntry[]): Buffer {
  const raw = Buffer.allocUnsafe(entries.length * ENTRY_BYTES);
  entries.forEach((e, i) => {
    const at = i * ENTRY_BYTES;
    e.chunkId.copy(raw, at);
    raw.writeUInt32LE(e.offsetBytes, at + 32);
    raw.writeUInt32LE(e.lengthBytes, at + 36);
  });
  return sealObject(keys, raw, PACK_HEADER_NAME);
}

export function decodePackHeader(keys: MasterKeys | null, sealed: Uint8Array): PackEntry[] | null {
  const raw = openObject(keys, sealed, PACK_HEADER_NAME);
  if (!raw || raw.length % ENTRY_BYTES !== 0) return null;
  const entries: PackEntry[] = [];
  for (let at = 0; at < raw.length; at += ENTRY_BYTES) {
    entries.push({
      chunkId: Buffer.from(raw.subarray(at, at + 32)),
      offsetBytes: raw.readUInt32LE(at + 32),
      lengthBytes: raw.readUInt32LE(at + 36),
    });
  }
  return entries;
}

/**
 * Completes a pack whose blobs fill buffer[0, blobBytes): appends the sealed header and trailer
 * in place when they fit, else copies into a new buffer. Returns the whole pack.
 */
export function appendPackTrailer(buffer: Buffer, blobBytes: number, sealedHeader: Buffer): Buffer {
  const total = blobBytes + sealedHeader.length + 4;
  const pack = total <= buffer.length ? buffer.subarray(0, total) : Buffer.concat([buffer.subarray(0, blobBytes)], total);
  sealedHeader.copy(pack, blobBytes);
  pack.writeUInt32LE(sealedHeader.length, blobBytes + sealedHeader.length);
  return pack;
}

/** The sealed header stored at the end of a pack, or null when the trailer is implausible. */
export function packTrailerHeader(pack: Buffer): Buffer | null {
  if (pack.length < 4) return null;
  const headerBytes = pack.readUInt32LE(pack.length - 4);
  if (headerBytes + 4 > pack.length) return null;
  return pack.subarray(pack.length - 4 - headerBytes, pack.length - 4);
}
