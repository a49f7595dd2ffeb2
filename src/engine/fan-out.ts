// `backup --copy-to REPO`: the same backup of a VM written to a second repository in the same
// run, from the same reads. Per VM and copy repository this holds the lock, chunk table, pack
// writer and one DiskCopySink per disk; once the primary manifest exists it completes the copy
// (pack uploads, chunks the primary did not read, disk indexes, manifest last). Every failure
// here is caught and reported as a missing copy: it never fails the primary backup.

import { hostName } from '../host/index.ts';
import { VmbakError, describeError } from '../core/index.ts';
import {
  PackWriter, acquireLock, compressionLevelFor, latestBackupOf, openChunkTableForWriting, recordBackup,
  type DiskIndex, type HeldLock, type Manifest, type Repository,
} from '../repository/index.ts';
import type { BackupSession } from '../core/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { DiskCopySink, type DiskTee } from './fan-out-sink.ts';

export interface CopyOutcome {
  readonly repo: string;
  readonly ok: boolean;
  readonly error: string | null;
  readonly backupId: string | null;
  readonly bytesNew: number;
}

interface Prepared {
  readonly repo: Repository;
  readonly pool: WorkerPool;
  readonly lock: HeldLock;
  readonly writer: PackWriter;
  readonly previous: Manifest | null;
}

export class FanOutCopy {
  private readonly location: string;
  private readonly open: () => Promise<{ repo: Repository; pool: WorkerPool }>;
  private prepared: Prepared | null = null;
  private failure: string | null = null;
  private readonly sinks = new Map<string, DiskCopySink>();

  constructor(location: string, open: () => Promise<{ repo: Repository; pool: WorkerPool }>) {
    this.location = location;
    this.open = open;
  }

  /** Opens the copy repository and takes the VM's lock there; a failure only marks the copy missing. */
  async prepare(vmKey: string, vmName: string, lockName: string): Promise<void> {
    try {
      const { repo, pool } = await this.open();
      const lock = await acquireLock(repo.target, lockName, `backup of ${vmName} (copy)`, `VM ${vmName}`);
      try {
        const table = await openChunkTableForWriting(repo, lock);
        const previous = await latestBackupOf(repo, vmKey);
        this.prepared = { repo, pool, lock, previous, writer: new PackWriter(repo.target, repo.keys, table, { packSizeBytes: repo.config.packSizeBytes, beforeIndex: () => lock.ensureUsable() }) };
      } catch (err) {
        await lock.release().catch(() => {});
        throw err;
      }
    } catch (err) {
      this.failure = describe(err);
    }
  }

  /**
   * The side stream for one disk, or undefined when the copy already failed. The copy's own
   * previous index is the base for unread chunks only when it was taken at the checkpoint the
   * primary reads changes since.
   */
  async teeFor(disk: string, sizeBytes: number, chunkSizeBytes: number, incrementalFrom: string | null): Promise<DiskTee | undefined> {
    const p = this.prepared;
    if (!p || this.failure) return undefined;
    let base: DiskIndex | null = null;
    const prev = p.previous?.disks.find((d) => d.name === disk);
    try {
      if (p.previous && prev && incrementalFrom !== null && p.previous.checkpointId === incrementalFrom
          && prev.sizeBytes === sizeBytes && prev.chunkSizeBytes === chunkSizeBytes) {
        const index = await p.repo.readDiskIndex(p.previous.backupId, disk);
        // As for the primary: unread chunks take the base's ids, so every one must be stored.
        if (index.digest() === prev.digest && allStored(index, p.writer)) base = index;
      }
    } catch {
      base = null;
    }
    // The copy's new chunks are incremental when it holds this disk's previous backup.
    const sink = new DiskCopySink(p.pool, p.writer, sizeBytes, chunkSizeBytes, base, compressionLevelFor(p.repo.config, prev !== undefined));
    this.sinks.set(disk, sink);
    return sink;
  }

  /** Completes the copy after the primary manifest was written. Never throws. */
  async complete(primary: Manifest, session: BackupSession): Promise<CopyOutcome> {
    const p = this.prepared;
    try {
      if (!p || this.failure) throw new VmbakError('INTERNAL', { detail: this.failure ?? 'not prepared' });
      for (const d of session.disks) {
        const sink = this.sinks.get(d.source.name);
        if (!sink) throw new VmbakError('INTERNAL', { detail: `no copy stream for disk ${d.source.name}` });
        await sink.fillFromSource(d.source);
        if (sink.failure) throw sink.failure;
      }
      if (p.lock.signal.aborted) throw p.lock.signal.reason;
      await p.writer.finish();
      const bytesNew = [...this.sinks.values()].reduce((s, k) => s + k.bytesNew, 0);
      const indexes = new Map([...this.sinks].map(([name, sink]) => [name, sink.index]));
      // The primary's id where the copy repository has no backup under it.
      const { backupId } = await recordBackup(p.repo, p.lock, indexes, (backupId): Manifest => ({
        ...primary, backupId, host: hostName(), parentBackupId: p.previous?.backupId ?? null,
        disks: primary.disks.map((d) => ({ ...d, digest: this.sinks.get(d.name)!.index.digest(), bytesNew: this.sinks.get(d.name)!.bytesNew })),
        stats: { ...primary.stats, bytesNew, bytesStored: p.writer.bytesStored },
      }), primary.backupId);
      return { repo: p.repo.displayUrl, ok: true, error: null, backupId, bytesNew };
    } catch (err) {
      return { repo: p?.repo.displayUrl ?? this.location, ok: false, error: this.failure ?? describe(err), backupId: null, bytesNew: 0 };
    } finally {
      await this.release();
    }
  }

  /** Drops the copy (the primary failed): nothing is referenced, the lock goes. */
  async release(): Promise<void> {
    const p = this.prepared;
    this.prepared = null;
    if (p) await p.lock.release().catch(() => {});
  }
}

function allStored(index: DiskIndex, writer: PackWriter): boolean {
  for (let i = 0; i < index.count; i++) if (!index.isZero(i) && !writer.knows(index.id(i))) return false;
  return true;
}

function describe(err: unknown): string {
  return err instanceof VmbakError ? err.message : describeError(err);
}
