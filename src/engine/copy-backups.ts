// `vmbak copy`: backups from repository A into repository B (any targets), as a plan and its
// execution. The plan says which backups travel and which B holds already (a manifest of B
// records it was copied from that backup of A), so a rerun copies only what is missing and a
// dry run prints the same plan.
//
// Execution, per backup: chunks B lacks are decoded with A's key and re-encoded with B's key
// (copy-disk.ts), B's packs are stored, the chunks written are read back and authenticated
// with B's key, every chunk the new disk indexes name is checked to be in B's table — then
// the disk indexes and, last, the manifest are written. Until that manifest exists nothing in
// B refers to the new packs, so a copy killed at any point leaves B as it was plus packs that
// the next copy finds in B's chunk table (it resumes: only the rest travels) or gc removes.
// Both repositories carry an operation lock for the whole run, so gc in either waits.

import { VmbakError } from '../core/index.ts';
import {
  PackWriter, acquireLock, compressionLevelFor, listBackups, loadChunkTable, noteGcPlan, openChunkTableForWriting, operationLockName, recordBackup,
  type DiskIndex, type HeldLock, type Manifest, type Repository,
} from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { ProgressCounters } from './progress.ts';
import { copyDiskChunks, type DiskCopyContext } from './copy-disk.ts';
import { assertIndexComplete, readBackWrittenChunks } from './copy-readback.ts';

export interface CopyPlanItem {
  readonly manifest: Manifest;
  /** The backup in B that already holds this one, or null when it must be copied. */
  readonly presentAs: string | null;
}

export interface CopyPlan {
  readonly from: Repository;
  readonly to: Repository;
  /** Oldest first, so a VM's newest backup is also the newest in B. */
  readonly items: readonly CopyPlanItem[];
}

export interface CopiedBackup {
  readonly sourceBackupId: string;
  readonly backupId: string;
  readonly vm: string;
  /** True when B held this backup already and nothing was done. */
  readonly skipped: boolean;
  readonly bytesRead: number;
  readonly bytesSent: number;
  readonly bytesStored: number;
  readonly bytesVerified: number;
  readonly durationMs: number;
}

export interface CopyOptions {
  readonly fromPool: WorkerPool;
  readonly toPool: WorkerPool;
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
  readonly onCopied?: (c: CopiedBackup) => void;
}

export async function planCopy(from: Repository, to: Repository, selected: readonly Manifest[]): Promise<CopyPlan> {
  if (from.config.repositoryId === to.config.repositoryId) {
    throw new VmbakError('USAGE', { detail: `${from.displayUrl} and ${to.displayUrl} are the same repository` });
  }
  const present = new Map<string, string>();
  for (const m of (await listBackups(to)).backups) {
    if (m.copiedFrom?.repositoryId === from.config.repositoryId) present.set(m.copiedFrom.backupId, m.backupId);
  }
  const items = [...selected]
    .sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.backupId < b.backupId ? -1 : 1))
    .map((manifest) => ({ manifest, presentAs: present.get(manifest.backupId) ?? null }));
  return { from, to, items };
}

export async function executeCopy(plan: CopyPlan, opts: CopyOptions): Promise<CopiedBackup[]> {
  const { from, to } = plan;
  const lockFrom = await acquireLock(from.target, operationLockName(), `copy to ${to.displayUrl}`, 'copy');
  try {
    const lockTo = await acquireLock(to.target, operationLockName(), `copy from ${from.displayUrl}`, 'copy');
    try {
      // Either lease lost stops the copy: A's packs could go, or B's new ones.
      const signal = AbortSignal.any([opts.signal, lockFrom.signal, lockTo.signal]);
      await noteGcPlan(from, lockFrom);
      const toTable = await openChunkTableForWriting(to, lockTo);
      const ctx: DiskCopyContext = {
        from, fromTable: await loadChunkTable(from.target, from.keys, new Set(), from.config.repositoryId), fromPool: opts.fromPool, toPool: opts.toPool,
        writer: new PackWriter(to.target, to.keys, toTable, { packSizeBytes: to.config.packSizeBytes, beforeIndex: () => lockTo.ensureUsable() }),
        sameIds: sameIdKeys(from, to), signal, progress: opts.progress,
      };
      const inB = new Map(plan.items.filter((i) => i.presentAs).map((i) => [i.manifest.backupId, i.presentAs!]));
      const done: CopiedBackup[] = [];
      for (const item of plan.items) {
        if (signal.aborted) throw signal.reason;
        const result = item.presentAs
          ? { sourceBackupId: item.manifest.backupId, backupId: item.presentAs, vm: item.manifest.vm.name, skipped: true, bytesRead: 0, bytesSent: 0, bytesStored: 0, bytesVerified: 0, durationMs: 0 }
          : await copyOneBackup(ctx, to, lockTo, toTable, item.manifest, inB, opts.toPool);
        await copyFileIndex(from, to, result.sourceBackupId, result.backupId);
        inB.set(result.sourceBackupId, result.backupId);
        done.push(result);
        opts.onCopied?.(result);
      }
      return done;
    } finally {
      await lockTo.release().catch(() => {});
    }
  } finally {
    await lockFrom.release().catch(() => {});
  }
}

async function copyOneBackup(
  ctx: DiskCopyContext, to: Repository, lockTo: HeldLock, toTable: Parameters<typeof readBackWrittenChunks>[1],
  m: Manifest, inB: ReadonlyMap<string, string>, toPool: WorkerPool,
): Promise<CopiedBackup> {
  const startedMs = Date.now();
  const storedBefore = ctx.writer.bytesStored;
  const indexes = new Map<string, DiskIndex>();
  const written: { id: Buffer; lengthBytes: number }[] = [];
  let bytesRead = 0;
  let bytesSent = 0;
  // Incremental in B when B holds the backup this one was taken after.
  const level = compressionLevelFor(to.config, m.parentBackupId !== null && inB.has(m.parentBackupId));
  for (const d of m.disks) {
    const source = await ctx.from.readDiskIndex(m.backupId, d.name);
    if (source.digest() !== d.digest) throw new VmbakError('INDEX_CORRUPT', { backupId: m.backupId, disk: d.name, detail: `does not match the digest in its manifest (in ${ctx.from.displayUrl})` });
    const r = await copyDiskChunks(ctx, m.backupId, d.name, source, level);
    indexes.set(d.name, r.index);
    written.push(...r.written);
    bytesRead += r.bytesRead;
    bytesSent += r.bytesSent;
  }
  await ctx.writer.finish();
  for (const [disk, index] of indexes) assertIndexComplete(to, toTable, m.backupId, disk, index);
  const bytesVerified = await readBackWrittenChunks(to, toTable, toPool, m.backupId, written, ctx.signal);
  if (ctx.signal.aborted) throw ctx.signal.reason;
  const manifestFor = (backupId: string): Manifest => ({
    ...m, backupId,
    parentBackupId: m.parentBackupId ? inB.get(m.parentBackupId) ?? null : null,
    disks: m.disks.map((d) => ({ ...d, digest: indexes.get(d.name)!.digest() })),
    copiedFrom: { repositoryId: ctx.from.config.repositoryId, repo: ctx.from.displayUrl, backupId: m.backupId, copiedAt: new Date().toISOString() },
  });
  // The same id when B has no backup under it; disk indexes first, the manifest last.
  const { backupId } = await recordBackup(to, lockTo, indexes, manifestFor, m.backupId);
  return {
    sourceBackupId: m.backupId, backupId, vm: m.vm.name, skipped: false, bytesRead, bytesSent,
    bytesStored: ctx.writer.bytesStored - storedBefore, bytesVerified, durationMs: Date.now() - startedMs,
  };
}

/**
 * A backup's file index travels with it (after its manifest, as in A), re-sealed under B's key
 * and name; one indexed in A after an earlier copy is brought over by the next copy.
 */
async function copyFileIndex(from: Repository, to: Repository, sourceBackupId: string, backupId: string): Promise<void> {
  const index = await from.readFileIndex(sourceBackupId);
  if (!index) return;
  const present = await to.readFileIndex(backupId).catch(() => null);
  if (present && present.header.createdAt >= index.header.createdAt) return;
  await to.writeFileIndex({ header: { ...index.header, backupId }, entries: index.entries });
}

/** Chunk ids agree between the two repositories: both unencrypted, or the same master secret. */
function sameIdKeys(a: Repository, b: Repository): boolean {
  if (!a.keys || !b.keys) return !a.keys && !b.keys;
  return a.masterSecret.equals(b.masterSecret);
}
