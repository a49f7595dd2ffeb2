// A disk of a backup as an NBD export, read straight from the repository: a read becomes the
// chunks it covers (through the disk's index), zero chunks are holes that are never read, and
// the others come decoded from the chunk fetcher (its cache, or their packs). Sequential
// reading is detected and the chunks ahead of it are fetched before they are asked for.
// Reads fail (EIO to the client) once `signal` fires: without its lease the repository may be
// changed under the export by gc.

import type { AllocationExtent } from '../core/index.ts';
import type { NbdExport } from '../nbd/index.ts';
import { chunkKeyOf, type DiskIndex } from '../repository/index.ts';
import type { ChunkRef, ChunkSource } from './chunk-fetcher.ts';

/** Sequential runs followed at once per disk. */
const MAX_STREAMS = 8;

interface ReadStream {
  /** The furthest chunk of the run a client has read. */
  frontier: number;
  /** Chunks up to here have been fetched ahead. */
  fetchedUntil: number;
  /** Reads that continued the run. */
  reads: number;
}

export interface BackupDiskExportOptions {
  readonly backupId: string;
  readonly vmName: string;
  readonly disk: string;
  readonly index: DiskIndex;
  readonly fetcher: ChunkSource;
  readonly signal: AbortSignal;
  /** Bytes fetched ahead of a sequential reader (whole chunks); 0 turns read-ahead off. */
  readonly readAheadBytes: number;
}

export class BackupDiskExport implements NbdExport {
  readonly name: string;
  readonly description: string;
  readonly sizeBytes: number;
  readonly preferredBlockBytes: number;
  private readonly opts: BackupDiskExportOptions;
  private readonly index: DiskIndex;
  /** Per chunk: 1 when it reads as zeros (not stored). */
  private readonly zero: Uint8Array;
  private readonly readAheadChunks: number;
  /** Sequential runs being followed, most recently used last. */
  private readonly streams: ReadStream[] = [];

  constructor(opts: BackupDiskExportOptions) {
    this.opts = opts;
    this.index = opts.index;
    this.name = opts.disk;
    this.description = `disk ${opts.disk} of VM ${opts.vmName}, backup ${opts.backupId}`;
    this.sizeBytes = opts.index.sizeBytes;
    this.preferredBlockBytes = opts.index.chunkSizeBytes;
    this.zero = new Uint8Array(opts.index.count);
    for (let i = 0; i < opts.index.count; i++) if (opts.index.isZero(i)) this.zero[i] = 1;
    this.readAheadChunks = Math.floor(opts.readAheadBytes / opts.index.chunkSizeBytes);
  }

  async read(offsetBytes: number, lengthBytes: number): Promise<Buffer> {
    this.opts.signal.throwIfAborted();
    const chunkBytes = this.index.chunkSizeBytes;
    const first = Math.floor(offsetBytes / chunkBytes);
    const last = Math.floor((offsetBytes + lengthBytes - 1) / chunkBytes);
    const wanted: number[] = [];
    for (let i = first; i <= last; i++) if (!this.zero[i]) wanted.push(i);
    const chunks = this.opts.fetcher.fetch(wanted.map((i) => this.refOf(i)), true);
    this.readAhead(first, last);
    const got = await Promise.all(chunks);
    if (first === last && got.length === 1) {
      // Inside one stored chunk (every small random read): a view, no copy.
      const from = offsetBytes - first * chunkBytes;
      return got[0]!.subarray(from, from + lengthBytes);
    }
    const out = Buffer.allocUnsafe(lengthBytes);
    let filled = 0; // bytes of `out` written so far; zero chunks in between are filled with zeros
    wanted.forEach((i, k) => {
      const chunkStart = i * chunkBytes;
      const from = Math.max(offsetBytes, chunkStart);
      const to = Math.min(offsetBytes + lengthBytes, chunkStart + got[k]!.length);
      out.fill(0, filled, from - offsetBytes);
      got[k]!.copy(out, from - offsetBytes, from - chunkStart, to - chunkStart);
      filled = to - offsetBytes;
    });
    out.fill(0, filled);
    return out;
  }

  async extents(offsetBytes: number, lengthBytes: number): Promise<AllocationExtent[]> {
    const chunkBytes = this.index.chunkSizeBytes;
    const endBytes = offsetBytes + lengthBytes;
    const out: AllocationExtent[] = [];
    for (let at = offsetBytes; at < endBytes;) {
      const i = Math.floor(at / chunkBytes);
      const next = Math.min(endBytes, (i + 1) * chunkBytes);
      const zero = this.zero[i] === 1;
      const prev = out[out.length - 1];
      if (prev && prev.zero === zero) out[out.length - 1] = { ...prev, lengthBytes: next - prev.offsetBytes };
      else out.push({ offsetBytes: at, lengthBytes: next - at, zero });
      at = next;
    }
    return out;
  }

  /** NBD_CMD_CACHE: fetches the range, at most four read-ahead windows of it (a hint must not flush the cache). */
  async prefetch(offsetBytes: number, lengthBytes: number): Promise<void> {
    this.opts.signal.throwIfAborted();
    const first = Math.floor(offsetBytes / this.index.chunkSizeBytes);
    const last = Math.min(Math.floor((offsetBytes + lengthBytes - 1) / this.index.chunkSizeBytes), first + Math.max(1, 4 * this.readAheadChunks) - 1);
    await Promise.all(this.fetchAhead(first, last));
  }

  /**
   * A read continues a run when it starts within half a window of the furthest chunk read
   * in it, ahead or behind: several connections of one reader interleave (a later request
   * may come first), and readers such as nbdcopy skip holes. Several runs are followed at
   * once (nbdcopy's threads each copy their own part of the disk). A read that continues no
   * run starts one; read-ahead begins with a run's third read, so random reads that happen
   * to land near an earlier one do not set it off. Once a run has less than half the window
   * fetched ahead, the window is filled up again.
   */
  private readAhead(first: number, last: number): void {
    if (this.readAheadChunks === 0) return;
    const span = last - first + 1;
    const at = this.streams.findIndex((r) => first <= r.frontier + 1 + Math.max(span, this.readAheadChunks / 2) && first >= r.frontier - this.readAheadChunks / 2);
    if (at < 0) {
      if (this.streams.length >= MAX_STREAMS) this.streams.shift();
      this.streams.push({ frontier: last, fetchedUntil: last, reads: 1 });
      return;
    }
    const run = this.streams.splice(at, 1)[0]!;
    this.streams.push(run);
    run.frontier = Math.max(run.frontier, last);
    run.reads++;
    if (run.reads < 3 || run.fetchedUntil - run.frontier >= this.readAheadChunks / 2) return;
    const from = Math.max(run.fetchedUntil, run.frontier) + 1;
    const to = Math.min(this.index.count - 1, run.frontier + this.readAheadChunks);
    if (to < from) return;
    run.fetchedUntil = to;
    for (const p of this.fetchAhead(from, to)) p.catch(() => {});
  }

  private fetchAhead(first: number, last: number): Promise<Buffer>[] {
    const refs: ChunkRef[] = [];
    for (let i = first; i <= last; i++) if (!this.zero[i]) refs.push(this.refOf(i));
    return this.opts.fetcher.fetch(refs, false);
  }

  private refOf(i: number): ChunkRef {
    const id = this.index.id(i);
    return {
      key: chunkKeyOf(id), id, plainBytes: this.index.chunkLength(i),
      backupId: this.opts.backupId, disk: this.opts.disk, offsetBytes: i * this.index.chunkSizeBytes,
    };
  }
}
