// Decoded chunks on demand, for the NBD export: from the decoded-chunk cache when there, else
// read from their packs through the one pack-read path (neighbouring blobs of one pack in one
// ranged read), several pack reads in parallel. A chunk already on its way is not asked for
// twice. Reads a client waits for go before read-ahead: queued read-ahead is only done when
// no waited-for read is queued, and a waited-for chunk promotes the read that carries it.
// A chunk that fails authentication is never cached and never returned: its promise rejects
// with CHUNK_CORRUPT naming backup, disk and offset.

import { VmbakError, describeError } from '../core/index.ts';
import { planBlobReads, type BlobRequest, type ChunkTable, type Repository } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { DecodedChunkCache } from './decoded-chunk-cache.ts';
import { readPackPiece } from './pack-read.ts';

/** A chunk of a disk of a backup, as the export asks for it. */
export interface ChunkRef {
  /** chunkKeyOf(id): the cache key. */
  readonly key: string;
  readonly id: Buffer;
  readonly plainBytes: number;
  readonly backupId: string;
  readonly disk: string;
  readonly offsetBytes: number;
}

/** Where an export gets decoded chunks from (the fetcher; tests give their own). */
export interface ChunkSource {
  /** One promise per ref, in order. `urgent`: a client waits for these (not read-ahead). */
  fetch(refs: readonly ChunkRef[], urgent: boolean): Promise<Buffer>[];
}

export interface ChunkFetcherOptions {
  readonly repo: Repository;
  readonly table: ChunkTable;
  readonly pool: WorkerPool;
  readonly cache: DecodedChunkCache;
  readonly readsInFlight?: number;
}

/** Pack reads of up to 1 MiB, as restore does: larger reads were no faster and cost memory. */
const PIECE_BYTES = 1 << 20;
const DEFAULT_READS_IN_FLIGHT = 12;

interface Pending {
  readonly promise: Promise<Buffer>;
  urgent: boolean;
  resolve(chunk: Buffer): void;
  reject(err: unknown): void;
  task: Task | null;
}

interface Task {
  urgent: boolean;
  readonly run: () => Promise<void>;
}

export class ChunkFetcher implements ChunkSource {
  private readonly opts: ChunkFetcherOptions;
  private readonly pending = new Map<string, Pending>();
  private readonly queue: Task[] = [];
  private unplanned: BlobRequest<{ ref: ChunkRef; p: Pending }>[] = [];
  private planScheduled = false;
  private running = 0;
  private readonly limit: number;
  /** Bytes read from packs so far (what the repository served, gaps between chunks included). */
  packBytesRead = 0;

  constructor(opts: ChunkFetcherOptions) {
    this.opts = opts;
    this.limit = opts.readsInFlight ?? DEFAULT_READS_IN_FLIGHT;
  }

  fetch(refs: readonly ChunkRef[], urgent: boolean): Promise<Buffer>[] {
    const out: Promise<Buffer>[] = [];
    for (const ref of refs) {
      const cached = this.opts.cache.get(ref.key);
      if (cached) { out.push(Promise.resolve(cached)); continue; }
      const inFlight = this.pending.get(ref.key);
      if (inFlight) {
        if (urgent) this.promote(inFlight);
        out.push(inFlight.promise);
        continue;
      }
      const location = this.opts.table.get(ref.id);
      if (!location) {
        out.push(Promise.reject(new VmbakError('CHUNK_MISSING', {
          chunkId: ref.id.toString('hex').slice(0, 16), backupId: ref.backupId, disk: ref.disk, offset: ref.offsetBytes, repo: this.opts.repo.displayUrl,
        })));
        continue;
      }
      const p = pending(urgent);
      this.pending.set(ref.key, p);
      this.unplanned.push({ location, tag: { ref, p }, plainBytes: ref.plainBytes });
      out.push(p.promise);
    }
    if (this.unplanned.length > 0 && !this.planScheduled) {
      this.planScheduled = true;
      setImmediate(() => this.plan());
    }
    return out;
  }

  /**
   * Plans the chunks asked for since the last plan together: a client's pipelined requests
   * arrive in one burst, and their chunks make larger pack reads together than each alone.
   */
  private plan(): void {
    this.planScheduled = false;
    const misses = this.unplanned;
    this.unplanned = [];
    for (const piece of planBlobReads(misses, PIECE_BYTES)) {
      const task: Task = { urgent: piece.members.some((m) => m.tag.p.urgent), run: () => this.readPiece(piece) };
      for (const m of piece.members) m.tag.p.task = task;
      this.queue.push(task);
    }
    this.pump();
  }

  private promote(p: Pending): void {
    p.urgent = true;
    if (p.task) p.task.urgent = true;
  }

  private pump(): void {
    while (this.running < this.limit && this.queue.length > 0) {
      const urgentAt = this.queue.findIndex((t) => t.urgent);
      const [task] = this.queue.splice(urgentAt >= 0 ? urgentAt : 0, 1);
      this.running++;
      void task!.run().finally(() => { this.running--; this.pump(); });
    }
  }

  private async readPiece(piece: ReturnType<typeof planBlobReads<{ ref: ChunkRef; p: Pending }>>[number]): Promise<void> {
    const members = piece.members;
    for (const m of members) m.tag.p.task = null;
    let reply;
    try {
      reply = await readPackPiece(this.opts.repo.target, this.opts.pool, piece, members.map((m) => ({ location: m.location, chunkId: m.tag.ref.id, plainBytes: m.plainBytes })), 'return');
      this.packBytesRead += piece.lengthBytes;
    } catch (err) {
      for (const { tag } of members) this.settle(tag, err);
      return;
    }
    // Decoded chunks lie back to back in member order, damaged ones included.
    let at = 0;
    members.forEach((m, k) => {
      const result = reply.results[k]!;
      const { ref } = m.tag;
      if (typeof result === 'string' || result !== ref.plainBytes) {
        this.settle(m.tag, new VmbakError('CHUNK_CORRUPT', {
          chunkId: ref.id.toString('hex').slice(0, 16), backupId: ref.backupId, disk: ref.disk, offset: ref.offsetBytes,
          detail: typeof result === 'string' ? result : `decodes to ${result} bytes, not ${ref.plainBytes}`,
        }));
      } else {
        const chunk = Buffer.from(reply.data!, at, ref.plainBytes);
        this.opts.cache.set(ref.key, chunk);
        this.settle(m.tag, chunk);
      }
      at += ref.plainBytes;
    });
  }

  private settle(tag: { ref: ChunkRef; p: Pending }, outcome: Buffer | unknown): void {
    this.pending.delete(tag.ref.key);
    if (Buffer.isBuffer(outcome)) tag.p.resolve(outcome);
    else tag.p.reject(outcome instanceof VmbakError ? outcome : new VmbakError('INTERNAL', { detail: describeError(outcome) }, { cause: outcome }));
  }
}

function pending(urgent: boolean): Pending {
  let resolve!: (chunk: Buffer) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<Buffer>((res, rej) => { resolve = res; reject = rej; });
  // Read-ahead nobody waits for may fail; that is not an unhandled rejection.
  promise.catch(() => {});
  return { promise, resolve, reject, urgent, task: null };
}
