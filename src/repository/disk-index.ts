// The fixed index of one disk in one backup: the id of every chunk-sized piece of the disk,
// in disk order, with an all-zero id for pieces that read as zeros (never stored). Binary
// layout before sealing: "VMBKFIDX" ‖ u32le version ‖ u32le chunkSizeBytes ‖ u64le sizeBytes ‖
// u32le count ‖ count × 32-byte ids. The disk digest recorded in the manifest is SHA-256 over
// the ordered ids, so a restored disk can be checked by re-chunking it, and an incremental
// computes it without reading unchanged data.

import { createHash } from 'node:crypto';

export const ZERO_CHUNK_ID = Buffer.alloc(32);
const MAGIC = Buffer.from('VMBKFIDX');
const HEADER_BYTES = 28;

export class DiskIndex {
  readonly sizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly ids: Buffer;

  constructor(sizeBytes: number, chunkSizeBytes: number, ids?: Buffer) {
    this.sizeBytes = sizeBytes;
    this.chunkSizeBytes = chunkSizeBytes;
    this.ids = ids ?? Buffer.alloc(chunkCountFor(sizeBytes, chunkSizeBytes) * 32);
  }

  get count(): number {
    return this.ids.length / 32;
  }

  id(index: number): Buffer {
    return this.ids.subarray(index * 32, index * 32 + 32);
  }

  setId(index: number, chunkId: Uint8Array): void {
    this.ids.set(chunkId, index * 32);
  }

  isZero(index: number): boolean {
    return this.id(index).equals(ZERO_CHUNK_ID);
  }

  /** Bytes covered by chunk `index` (the last chunk of a disk may be short). */
  chunkLength(index: number): number {
    return Math.min(this.chunkSizeBytes, this.sizeBytes - index * this.chunkSizeBytes);
  }

  digest(): string {
    return createHash('sha256').update(this.ids).digest('hex');
  }

  encode(): Buffer {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(this.chunkSizeBytes, 12);
    header.writeBigUInt64LE(BigInt(this.sizeBytes), 16);
    header.writeUInt32LE(this.count, 24);
    return Buffer.concat([header, this.ids]);
  }

  /** Decodes an index, or returns a reason it is damaged. */
  static decode(data: Buffer): DiskIndex | string {
    if (data.length < HEADER_BYTES || !data.subarray(0, 8).equals(MAGIC)) return 'bad header';
    if (data.readUInt32LE(8) !== 1) return `unknown index version ${data.readUInt32LE(8)}`;
    const chunkSizeBytes = data.readUInt32LE(12);
    const sizeBytes = Number(data.readBigUInt64LE(16));
    const count = data.readUInt32LE(24);
    if (chunkSizeBytes === 0 || count !== chunkCountFor(sizeBytes, chunkSizeBytes) || data.length !== HEADER_BYTES + count * 32) return 'size does not match its chunk count';
    return new DiskIndex(sizeBytes, chunkSizeBytes, Buffer.from(data.subarray(HEADER_BYTES)));
  }
}

export function chunkCountFor(sizeBytes: number, chunkSizeBytes: number): number {
  return Math.ceil(sizeBytes / chunkSizeBytes);
}
