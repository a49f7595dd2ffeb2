// Collects encoded chunk blobs into packs and uploads them. A pack is written before its
// index object, and both before any disk index or manifest that refers to their chunks, so
// a crash at any point leaves only unreferenced objects. At most `maxUploads` packs are in
// flight: when the target is slower than the pipeline, add() waits (back-pressure) instead of
// buffering without bound.

import { type Target } from '../core/index.ts';
import { sha256 } from './crypto.ts';
import type { ChunkTable } from './chunk-table.ts';
import { chunkKey } from './chunk-table.ts';
import { assemblePack, encodePackHeader, type PackEntry } from './pack-format.ts';
import { packIndexObject, packObject } from './layout.ts';
import type { MasterKeys } from './crypto.ts';

export interface PackWriterOptions {
  readonly packSizeBytes: number;
  readonly maxUploads?: number;
}

export class PackWriter {
  /** Bytes of blobs written to packs so far (after compression and encryption). */
  bytesStored = 0;
  private blobs: Buffer[] = [];
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

  async add(chunkId: Buffer, blob: Buffer): Promise<void> {
    this.throwIfFailed();
    this.pendingIds.add(chunkKey(chunkId));
    this.entries.push({ chunkId, offsetBytes: this.sizeBytes, lengthBytes: blob.length });
    this.blobs.push(blob);
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
    if (this.entries.length === 0) return;
    const blobs = this.blobs;
    const entries = this.entries;
    this.blobs = [];
    this.entries = [];
    this.sizeBytes = 0;
    while (this.uploads.size >= (this.options.maxUploads ?? 2)) await Promise.race(this.uploads);
    this.throwIfFailed();
    const upload = this.upload(blobs, entries).catch((err: unknown) => { this.failure ??= err; });
    this.uploads.add(upload);
    void upload.finally(() => this.uploads.delete(upload));
  }

  private async upload(blobs: Buffer[], entries: PackEntry[]): Promise<void> {
    const header = encodePackHeader(this.keys, entries);
    const pack = assemblePack(blobs, header);
    const packId = sha256(pack).toString('hex');
    await this.target.put(packObject(packId), pack);
    await this.target.put(packIndexObject(packId), header);
    for (const e of entries) {
      this.table.add(e.chunkId, { packId, offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes });
      this.pendingIds.delete(chunkKey(e.chunkId));
    }
    this.bytesStored += pack.length;
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}
