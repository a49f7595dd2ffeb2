// Backs up one VM into one repository: take the VM's lock, compare with its previous backup,
// run every disk through the pipeline, then write the disk indexes and — last — the manifest.
// Until the manifest exists nothing refers to the new packs, so an abort or a crash at any
// point leaves the repository as it was plus unreferenced packs that gc removes.

import { hostName } from '../host/index.ts';
import { createHash } from 'node:crypto';
import { systemClock, type BackupSession, type Clock } from '../core/index.ts';
import {
  PackWriter, acquireLock, compressionLevelFor, latestBackupOf, recordBackup, type ChunkTable, type DiskIndex, type Manifest, type ManifestDisk, type Repository,
} from '../repository/index.ts';
import { openChunkTableForWriting } from '../repository/index.ts';
import { backupDisk } from './backup-disk.ts';
import { teeToAll, type DiskTee } from './fan-out-sink.ts';
import { decideImageRead } from './unchanged-image.ts';
import type { FanOutCopy } from './fan-out.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { DiskProgress, ProgressCounters } from './progress.ts';
import type { PauseGate } from './pause-gate.ts';

export interface VmIdentity {
  /** Stable key of the VM in repositories: its UUID when known, else its name. */
  readonly key: string;
  readonly name: string;
  readonly uuid: string | null;
}

export interface BackupVmRequest {
  readonly repo: Repository;
  readonly vm: VmIdentity;
  readonly source: Manifest['source'];
  readonly session: BackupSession;
  readonly pool: WorkerPool;
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
  readonly clock?: Clock;
  readonly gate?: PauseGate;
  /** Second repositories written from the same reads (backup --copy-to); they never fail this backup. */
  readonly copies?: readonly FanOutCopy[];
  /** Read image files even when their facts say they are unchanged (backup --force-read). */
  readonly forceRead?: boolean;
  /** Backups never to build an incremental on (their verify failed): a VM whose latest is one is read whole. */
  readonly distrustedBases?: ReadonlySet<string>;
}

export function vmLockName(vmKey: string): string {
  return `vm-${createHash('sha256').update(vmKey).digest('hex').slice(0, 24)}`;
}

export async function backupVm(req: BackupVmRequest): Promise<Manifest> {
  const { repo, vm, session } = req;
  const clock = req.clock ?? systemClock;
  const startedMs = clock.nowMs();
  const lock = await acquireLock(repo.target, vmLockName(vm.key), `backup of ${vm.name}`, `VM ${vm.name}`, clock);
  // A lost lease stops the pipeline like an abort does, with LEASE_LOST as the reason.
  const signal = AbortSignal.any([req.signal, lock.signal]);
  try {
    const table = await openChunkTableForWriting(repo, lock, clock);
    const previous = await latestBackupOf(repo, vm.key);
    const copies = req.copies ?? [];
    await Promise.all(copies.map((c) => c.prepare(vm.key, vm.name, vmLockName(vm.key))));
    const writer = new PackWriter(repo.target, repo.keys, table, { packSizeBytes: repo.config.packSizeBytes, beforeIndex: () => lock.ensureUsable() });
    const disks: ManifestDisk[] = [];
    const indexes = new Map<string, DiskIndex>();
    for (const disk of session.disks) {
      const prevDisk = previous?.disks.find((d) => d.name === disk.source.name) ?? null;
      const candidate = await chooseBase(repo, previous, prevDisk, disk.source.sizeBytes, req.distrustedBases);
      const decision = decideImageRead({ facts: disk.sourceFile, previous, prevDisk, forceRead: req.forceRead === true, copies: copies.length });
      // Only a base whose ids are taken without reading (an unchanged image file, a dirty map)
      // must have every chunk still stored; a full read compares with it and nothing more, and
      // checking costs a lookup per chunk (~5 µs: 0.2 s for 4 GiB, minutes for many TiB).
      const buildsOnBase = candidate.base !== null && (decision.skip || disk.incrementalFrom !== null);
      const unstored = buildsOnBase ? missingChunksReason(table, previous!, candidate.base!) : null;
      const { base, reason } = unstored === null ? candidate : { base: null, reason: unstored };
      const sourceFile = disk.sourceFile ?? undefined;
      if (decision.skip && base) {
        // Unchanged since the previous backup read it: its index, checked like any base, is this one.
        indexes.set(disk.source.name, base);
        disks.push({
          name: disk.source.name, sizeBytes: disk.source.sizeBytes, chunkSizeBytes: repo.config.chunkSizeBytes,
          digest: base.digest(), format: 'raw', sourcePath: null, bytesRead: 0, bytesNew: 0, bytesChanged: 0,
          incremental: true, fallbackReason: null, sourceFile, read: 'skipped', readReason: decision.reason,
        });
        continue;
      }
      const readReason = decision.skip ? `image unchanged, but ${reason}` : decision.reason;
      let fallbackReason = disk.fallbackReason ?? reason;
      let useDirtyMap = disk.incrementalFrom !== null && base !== null;
      if (useDirtyMap && previous?.checkpointId !== disk.incrementalFrom) {
        useDirtyMap = false;
        fallbackReason = `checkpoint ${disk.incrementalFrom} does not match the latest backup of ${vm.name} in ${repo.displayUrl}`;
      }
      if (!useDirtyMap && disk.incrementalFrom === null && !fallbackReason) fallbackReason = 'no changed-block tracking for this source';
      if (useDirtyMap) fallbackReason = null;
      // A VM that moved hosts: its changed-block chain is the old host's checkpoints, so the
      // new host reads it whole — and says where the chain stayed.
      else if (fallbackReason?.includes('no longer exists') && previous && previous.host !== hostName()) fallbackReason = `${fallbackReason} (the VM moved: its last backup was made on host ${previous.host}, whose checkpoints this host does not have)`;
      const tees = await Promise.all(copies.map((c) => c.teeFor(disk.source.name, disk.source.sizeBytes, repo.config.chunkSizeBytes, useDirtyMap ? disk.incrementalFrom : null)));
      const diskProgress: DiskProgress = { vm: vm.name, disk: disk.source.name, bytesToRead: 0, bytesRead: 0, startedMs: clock.nowMs(), finishedMs: null };
      req.progress.disks.push(diskProgress);
      const result = await backupDisk(
        { pool: req.pool, writer, chunkSizeBytes: repo.config.chunkSizeBytes, signal, progress: req.progress, gate: req.gate, tee: teeToAll(tees.filter((t): t is DiskTee => t !== undefined)), diskProgress },
        { source: disk.source, previous: base, useDirtyMap, compressionLevel: compressionLevelFor(repo.config, base !== null) },
      );
      indexes.set(disk.source.name, result.index);
      disks.push({
        name: disk.source.name, sizeBytes: disk.source.sizeBytes, chunkSizeBytes: repo.config.chunkSizeBytes,
        digest: result.index.digest(), format: 'raw', sourcePath: null,
        bytesRead: result.bytesRead, bytesNew: result.bytesNew, bytesChanged: result.bytesChanged,
        incremental: useDirtyMap, fallbackReason, sourceFile, read: 'read', readReason,
      });
    }
    if (signal.aborted) throw signal.reason;
    await writer.finish();
    if (signal.aborted) throw signal.reason;
    // A disk skipped as unchanged counts as incremental: nothing of it needed reading.
    const incremental = disks.length > 0 && disks.every((d) => d.incremental);
    const finishedMs = clock.nowMs();
    return await recordBackup(repo, lock, indexes, (backupId): Manifest => ({
      version: 1, backupId, vm: { key: vm.key, name: vm.name, uuid: vm.uuid },
      time: new Date(startedMs).toISOString(), finishedAt: new Date(finishedMs).toISOString(), host: hostName(),
      source: req.source, consistency: session.consistency, incremental,
      fallbackReason: incremental ? null : disks.map((d) => d.fallbackReason).find((r) => r) ?? null,
      parentBackupId: previous?.backupId ?? null, checkpointId: session.checkpointId, domainXml: session.domainXml || null,
      stateFiles: session.stateFiles.map((f) => ({ name: f.name, dataBase64: f.data.toString('base64') })),
      disks,
      skippedDisks: session.skippedDisks.map((s) => ({ name: s.target, reason: s.reason })),
      warnings: [...session.warnings],
      stats: {
        bytesRead: sum(disks.map((d) => d.bytesRead)), bytesNew: sum(disks.map((d) => d.bytesNew)),
        bytesStored: writer.bytesStored, durationMs: finishedMs - startedMs,
      },
    }));
  } finally {
    await lock.release().catch(() => {});
  }
}

/** The previous index to compare with, or why there is none. */
async function chooseBase(
  repo: Repository, previous: Manifest | null, prevDisk: ManifestDisk | null, sizeBytes: number, distrusted?: ReadonlySet<string>,
): Promise<{ base: DiskIndex | null; reason: string | null }> {
  if (!previous) return { base: null, reason: 'first backup of this VM in this repository' };
  if (distrusted?.has(previous.backupId)) return { base: null, reason: `previous backup ${previous.backupId} failed verification` };
  if (!prevDisk) return { base: null, reason: 'disk is new since the previous backup' };
  if (prevDisk.sizeBytes !== sizeBytes) return { base: null, reason: `disk was resized (${prevDisk.sizeBytes} → ${sizeBytes} bytes)` };
  if (prevDisk.chunkSizeBytes !== repo.config.chunkSizeBytes) return { base: null, reason: 'previous backup used another chunk size' };
  const base = await repo.readDiskIndex(previous.backupId, prevDisk.name);
  if (base.digest() !== prevDisk.digest) return { base: null, reason: `previous index of ${prevDisk.name} does not match its manifest` };
  return { base, reason: null };
}

/**
 * Why a base may not be built on, or null. Changed-block tracking and an unchanged image file
 * take the base's ids without reading them: a base whose chunks are not all stored (a manifest
 * its writer took back after losing its lease, a pack gc has condemned) must not be built on.
 */
function missingChunksReason(table: ChunkTable, previous: Manifest, base: DiskIndex): string | null {
  for (let i = 0; i < base.count; i++) {
    if (!base.isZero(i) && !table.has(base.id(i))) return `previous backup ${previous.backupId} refers to chunks no longer stored`;
  }
  return null;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
