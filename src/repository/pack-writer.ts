// Collects encoded chunk blobs into packs and uploads them. A pack is written before its
// index object, and both before any disk index or manifest that refers to their chunks, so
// a crash at any point leaves only unreferenced objects.
//
// Memory is a fixed budget of pack buffers: one being filled plus one per upload slot
// (`maxUploads`). A full pack is handed to its upload at once; when every buffer is taken,
// add() waits for an upload to give one back. That wait is the back-pressure against a slow
// target, and it keeps the concurrent batches of a backup from each taking a fresh pack
// buffer while the full one waits for its slot.

import { copyBytes, pageAlignedBuffer, type Target } from '../core/index.ts';
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
  private entries: PackEntry[] = [];
  private sizeBytes = 0;
  /** Pack buffers back from a successful upload, for reuse (a new 17 MiB buffer costs fresh pages). */
  private readonly spare: Buffer[] = [];
  /** Pack buffers that exist now: filling, waiting for an upload slot, uploading or spare. */
  private buffersLive = 0;
  /** Set while adds wait for a buffer; every add waits on the same promise. */
  private bufferWait: Promise<void> | null = null;
  private wakeBufferWait: (() => void) | null = null;
  /** The most pack buffers that existed at once (tests and diagnostics). */
  peakBuffers = 0;
  private readonly pendingIds = new Set<string>();
  private readonly uploads = new Set<Promise<void>>();
  /** Full packs waiting for an upload slot, in order. */
  private readonly queued: { buffer: Buffer; blobBytes: number; entries: PackEntry[] }[] = [];
  private failure: unknown = null;
  private readonly target: Target;
  private readonly keys: MasterKeys | null;
  private readonly table: ChunkTable;
  private readonly options: PackWriterOptions;
  private readonly maxUploads: number;

  constructor(target: Target, keys: MasterKeys | null, table: ChunkTable, options: PackWriterOptions) {
    this.target = target;
    this.keys = keys;
    this.table = table;
    this.options = options;
    this.maxUploads = Math.max(1, options.maxUploads ?? 2);
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
    // Every await below lets other adds run, so the checks are made again after it.
    for (;;) {
      this.throwIfFailed();
      if (this.pack && this.sizeBytes + blob.length > this.pack.length) this.flush();
      if (this.pack) break;
      const buffer = this.takeBuffer(blob.length);
      if (buffer) this.pack = buffer;
      else await this.waitForBuffer();
    }
    this.pendingIds.add(chunkKey(chunkId));
    this.entries.push({ chunkId, offsetBytes: this.sizeBytes, lengthBytes: blob.length });
    // Blobs come from the batch slots' shared memory: copyBytes, not Buffer#copy (see there).
    copyBytes(blob, this.pack, this.sizeBytes);
    this.sizeBytes += blob.length;
    if (this.sizeBytes >= this.options.packSizeBytes) this.flush();
  }

  /** Uploads every pending blob and waits until all packs and their indexes are stored. */
  async finish(): Promise<void> {
    this.flush();
    while (this.uploads.size > 0 || this.queued.length > 0) {
      await Promise.allSettled([...this.uploads]);
      if (this.failure) break;
    }
    this.throwIfFailed();
  }

  /** Hands the pack being filled to its upload (started now, or when a slot frees). */
  private flush(): void {
    const buffer = this.pack;
    if (!buffer) return;
    this.pack = null;
    if (this.entries.length === 0) {
      this.giveBack(buffer);
      return;
    }
    this.queued.push({ buffer, blobBytes: this.sizeBytes, entries: this.entries });
    this.entries = [];
    this.sizeBytes = 0;
    this.startUploads();
  }

  private startUploads(): void {
    while (this.uploads.size < this.maxUploads && this.queued.length > 0 && !this.failure) {
      const { buffer, blobBytes, entries } = this.queued.shift()!;
      const upload = this.upload(buffer, blobBytes, entries).then(
        () => this.giveBack(buffer),
        (err: unknown) => {
          this.failure ??= err;
          // A failed upload's buffer is dropped, not reused: a timed-out write may still read it.
          this.buffersLive--;
          this.wake();
        });
      this.uploads.add(upload);
      void upload.finally(() => {
        this.uploads.delete(upload);
        this.startUploads();
      });
    }
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

  /**
   * A buffer for the next pack, with room for a pack's worth of blobs plus the one that ends
   * it; null when the budget (one filling, one per upload slot) is used up.
   */
  private takeBuffer(firstBlobBytes: number): Buffer | null {
    const want = this.options.packSizeBytes + Math.max(firstBlobBytes, PACK_SLACK_BYTES);
    const i = this.spare.findIndex((b) => b.length >= want);
    if (i >= 0) return this.spare.splice(i, 1)[0]!;
    if (this.spare.length > 0) {
      // Too small for this blob (a pack size beyond the usual): replaced, not added to.
      this.spare.pop();
      this.buffersLive--;
    }
    if (this.buffersLive >= this.maxUploads + 1) return null;
    this.buffersLive++;
    this.peakBuffers = Math.max(this.peakBuffers, this.buffersLive);
    // Page-aligned, so a local target can write the pack around the page cache.
    return pageAlignedBuffer(want);
  }

  private giveBack(buffer: Buffer): void {
    this.spare.push(buffer);
    this.wake();
  }

  private waitForBuffer(): Promise<void> {
    this.bufferWait ??= new Promise<void>((resolve) => { this.wakeBufferWait = resolve; });
    return this.bufferWait;
  }

  private wake(): void {
    const wake = this.wakeBufferWait;
    this.bufferWait = null;
    this.wakeBufferWait = null;
    wake?.();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
