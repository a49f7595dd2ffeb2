// A fixed pool of chunk workers (one per core by default), started on first use: a backup
// whose disks are all skipped as unchanged never pays for booting them. Requests carry a job
// id; a job's follow-up request (encode after hash) goes to the worker that holds its data.
//
// A worker takes ~0.1-0.2 s to boot (a V8 isolate, its modules). Commands that will surely
// need workers (restore) call prestartWorkers() first thing, so that boot overlaps with
// opening the repository (the passphrase's scrypt, the chunk table) instead of following it;
// the pool then adopts those workers and sends them the keys. Backup does not: its unchanged
// image files are skipped without workers, and booting them anyway cost that path 15% more
// CPU (0.13 s) for no measured gain in a backup that reads.

import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { VmbakError, pageAlignedSharedMemory } from '../core/index.ts';
import type { Repository } from '../repository/index.ts';
import type { InitMessage, SlotMessage, WorkerReply, WorkerRequest } from './worker-protocol.ts';

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './chunk-worker.ts' : './chunk-worker.js', import.meta.url);

/** Booted workers no pool has taken yet; they do not keep the process alive. */
const prestarted: Worker[] = [];

/** Boots `count` chunk workers now, for the next pool to take (see the top of this file). */
export function prestartWorkers(count = availableParallelism()): void {
  while (prestarted.length < count) {
    const worker = new Worker(WORKER_URL);
    worker.unref();
    // A worker that fails before a pool takes it is dropped; the pool then boots its own.
    const drop = (): void => { const i = prestarted.indexOf(worker); if (i >= 0) prestarted.splice(i, 1); };
    worker.on('error', drop);
    worker.on('exit', drop);
    prestarted.push(worker);
  }
}

type Pending = { resolve: (r: WorkerReply) => void; reject: (e: unknown) => void };

/** Shared memory a batch lives in while workers hash and encode it: no copy, no transfer. */
export interface BatchSlot {
  readonly id: number;
  readonly input: Buffer;
  readonly output: Buffer;
}
type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending & { worker: number }>();
  private nextJobId = 1;
  private closed = false;
  private readonly freeSlots: BatchSlot[] = [];
  private nextSlotId = 0;

  /** A pool that encodes for this repository (with its key, when encrypted). */
  static forRepository(repo: Repository, size?: number): WorkerPool {
    return new WorkerPool(repo.keys ? repo.masterSecret : null, size);
  }

  private readonly start: (() => void) | null;
  private started = false;

  constructor(secret: Buffer | null, size = availableParallelism()) {
    const count = Math.max(1, size);
    for (let i = 0; i < count; i++) this.load.push(0);
    this.start = () => {
      for (let i = 0; i < count; i++) {
        const worker = prestarted.shift() ?? new Worker(WORKER_URL);
        worker.removeAllListeners('error').removeAllListeners('exit').ref();
        // Messages arrive in order: the keys come before any request.
        worker.postMessage({ op: 'init', secret: secret ? new Uint8Array(secret) : null } satisfies InitMessage);
        worker.on('message', (reply: WorkerReply) => this.settle(reply));
        worker.on('error', (err) => this.failAll(err));
        this.workers.push(worker);
      }
    };
  }

  /** Boots the workers once; every slot is made after this, so each worker learns every slot. */
  private ensureStarted(): void {
    if (this.started) return;
    this.started = true;
    this.start?.();
  }

  /** Starts a job on the least busy worker; returns the worker's number for follow-ups. */
  pick(): number {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    return best;
  }

  newJobId(): number {
    return this.nextJobId++;
  }

  run(worker: number, request: DistributiveOmit<WorkerRequest, never>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.closed) return Promise.reject(new VmbakError('INTERNAL', { detail: 'worker pool is closed' }));
    this.ensureStarted();
    return new Promise((resolve, reject) => {
      this.pending.set(request.jobId * 2 + (request.op === 'hash' ? 0 : 1), { resolve, reject, worker });
      this.load[worker]!++;
      this.workers[worker]!.postMessage(request, transfer);
    });
  }

  /**
   * A slot with at least these sizes, free until released. Slots are made on demand and kept
   * for the pool's life, so there are as many as batches were ever in flight at once.
   */
  acquireSlot(inputBytes: number, outputBytes: number): BatchSlot {
    this.ensureStarted();
    const i = this.freeSlots.findIndex((s) => s.input.length >= inputBytes && s.output.length >= outputBytes);
    if (i >= 0) return this.freeSlots.splice(i, 1)[0]!;
    // Page-aligned, so a source can read into it with O_DIRECT (raw image files, see
    // hypervisors/raw-file-reader.ts).
    const input = pageAlignedSharedMemory(inputBytes);
    const output = new SharedArrayBuffer(outputBytes);
    const slot: BatchSlot = { id: this.nextSlotId++, input: Buffer.from(input), output: Buffer.from(output) };
    // Messages to a worker arrive in order, so every worker knows the slot before its first use.
    for (const w of this.workers) w.postMessage({ op: 'slot', slot: slot.id, input, output } satisfies SlotMessage);
    return slot;
  }

  releaseSlot(slot: BatchSlot): void {
    this.freeSlots.push(slot);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private settle(reply: WorkerReply): void {
    const key = reply.jobId * 2 + (reply.op === 'hash' ? 0 : 1);
    let entry = this.pending.get(key);
    let usedKey = key;
    if (!entry && reply.op === 'error') {
      usedKey = this.pending.has(reply.jobId * 2) ? reply.jobId * 2 : reply.jobId * 2 + 1;
      entry = this.pending.get(usedKey);
    }
    if (!entry) return;
    this.pending.delete(usedKey);
    this.load[entry.worker]!--;
    if (reply.op === 'error') entry.reject(new VmbakError('INTERNAL', { detail: `worker: ${reply.message}` }));
    else entry.resolve(reply);
  }

  private failAll(err: unknown): void {
    for (const [key, p] of this.pending) {
      this.pending.delete(key);
      p.reject(new VmbakError('INTERNAL', { detail: `worker failed: ${err instanceof Error ? err.message : String(err)}` }));
    }
  }
}

