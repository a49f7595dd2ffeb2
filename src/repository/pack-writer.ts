// Collects encoded chunk blobs into packs and uploads them. A pack is written before its
// index object, and both before any disk index or manifest that refers to their chunks, so
// a crash at any point leaves only unreferenced objects. At most `maxUploads` packs are in
// flight: when the target is slower than the pipeline, add() waits (back-pressure) instead of
// buffering without bound.

import { type Target } from '../core/index.ts';
import { sha256 } from './crypto.ts';
import type { ChunkTable } from './chunk-table.ts';
import { chunkKey } from './chunk-table.ts';
import { appendPackTrailer, encodePackHeader, type PackEntry } from './pack-format.ts';
import { packIndexObject, packObject } from './layout.ts';
import type { MasterKeys } from './crypto.ts';

/** Room past the pack size for the blob that crosses it and for the header (40 bytes a chunk). */
const PACK_SLACK_BYTES = 1 << 20;

export interface PackWriterOptions {
  readonly packSizeBytes: number;
  readonly maxUploads?: number;
  /**
   * Runs before each pack index is written and throws to stop it: the writer's lease check
   * (HeldLock.ensureUsable), so a writer that lost its lock indexes no more packs.
   */
  readonly beforeIndex?: () => Promise<void>;
}

export class PackWriter {
  /** Bytes of blobs written to packs so far (after compression and encryption). */
  bytesStored = 0;
  /** The pack being filled: blobs are copied in as they come, the header appended at flush. */
  private pack: Buffer | null = null;
  /** Pack buffers whose upload succeeded, for reuse (a failed upload's buffer is dropped: a timed-out write may still read it). */
  private readonly spare: Buffer[] = [];
  private entries: PackEntry[] = [];
  private sizeBytes = 0;
  private readonly pendingIds = new Set<string>();
  private readonly uploads = new Set<Promise<void>>();
  private failure: unknown = null;
  private readonly target: Target;
  private readonly keys: MasterKeys | null;
  private readonly table: ChunkTable;
  private readonly options: PackWriterOptions;

  constructor(target: Target, keys: MasterKeys | null, table: ChunkTable, options: PackWriterOptions) {
    this.target = target;
    this.keys = keys;
    this.table = table;
    this.options = options;
  }

  /** True when the chunk is stored already or on its way into a pack of this writer. */
  knows(chunkId: Uint8Array): boolean {
    return this.pendingIds.has(chunkKey(chunkId)) || this.table.has(chunkId);
  }

  /** Reserves a chunk id so concurrent duplicates within one run are encoded once. */
  reserve(chunkId: Uint8Array): void {
    this.pendingIds.add(chunkKey(chunkId));
  }

  /** Adds a blob (copied: the caller may reuse its memory once this returns). */
  async add(chunkId: Buffer, blob: Uint8Array): Promise<void> {
    this.throwIfFailed();
    if (this.pack && this.sizeBytes + blob.length > this.pack.length) await this.flush();
    this.pack ??= this.takeBuffer(blob.length);
    this.pendingIds.add(chunkKey(chunkId));
    this.entries.push({ chunkId, offsetBytes: this.sizeBytes, lengthBytes: blob.length });
    // Buffer#copy is a plain memmove; TypedArray#set from a SharedArrayBuffer view (the batch
    // slots) is V8's atomics-safe copy, ten times slower.
    Buffer.from(blob.buffer, blob.byteOffset, blob.length).copy(this.pack, this.sizeBytes);
    this.sizeBytes += blob.length;
    if (this.sizeBytes >= this.options.packSizeBytes) await this.flush();
  }

  /** Uploads every pending blob and waits until all packs and their indexes are stored. */
  async finish(): Promise<void> {
    await this.flush();
    await Promise.allSettled([...this.uploads]);
    this.throwIfFailed();
  }

  private async flush(): Promise<void> {
    if (this.entries.length === 0 || !this.pack) return;
    const buffer = this.pack;
    const blobBytes = this.sizeBytes;
    const entries = this.entries;
    this.pack = null;
    this.entries = [];
    this.sizeBytes = 0;
    const maxUploads = this.options.maxUploads ?? 2;
    while (this.uploads.size >= maxUploads) await Promise.race(this.uploads);
    this.throwIfFailed();
    // Every uploaded buffer is kept for reuse (at most one per upload slot): a dropped 17 MiB
    // buffer lingers until a full garbage collection, and a new one costs fresh pages.
    const upload = this.upload(buffer, blobBytes, entries).then(
      () => { if (this.spare.length < maxUploads) this.spare.push(buffer); },
      (err: unknown) => { this.failure ??= err; });
    this.uploads.add(upload);
    void upload.finally(() => this.uploads.delete(upload));
  }

  private async upload(buffer: Buffer, blobBytes: number, entries: PackEntry[]): Promise<void> {
    const header = encodePackHeader(this.keys, entries);
    const pack = appendPackTrailer(buffer, blobBytes, header);
    const packId = sha256(pack).toString('hex');
    await this.target.put(packObject(packId), pack);
    await this.options.beforeIndex?.();
    await this.target.put(packIndexObject(packId), header);
    for (const e of entries) {
      this.table.add(e.chunkId, { packId, offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes });
      this.pendingIds.delete(chunkKey(e.chunkId));
    }
    this.bytesStored += pack.length;
  }

  /** A buffer for the next pack, with room for a pack's worth of blobs plus the one that ends it. */
  private takeBuffer(firstBlobBytes: number): Buffer {
    const want = this.options.packSizeBytes + Math.max(firstBlobBytes, PACK_SLACK_BYTES);
    const i = this.spare.findIndex((b) => b.length >= want);
    return i >= 0 ? this.spare.splice(i, 1)[0]! : Buffer.allocUnsafe(want);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
