// Garbage collection, mark and sweep. Mark: every chunk a manifest's disk indexes refer to.
// Sweep: packs holding no marked chunk are deleted, packs mostly unmarked are repacked, and
// what crashed runs left (packs without index, disk indexes without manifest, dead owners'
// locks) goes too. Safety against concurrent writers (see docs/format.md):
//   - gc holds the `gc` lock; a writer takes its own lock and then refuses to start while a
//     live gc lock exists, so at least one of the two always sees the other;
//   - only packs listed before the mark began are candidates: a pack written later may hold
//     chunks of a manifest the mark did not see;
//   - while any other operation is live, gc deletes nothing new: it writes the unreferenced
//     packs into the gc plan (writers leave those out of dedup) and deletes them on a later
//     run, once every live operation has recorded in its lock that it read that plan;
//   - every delete happens on a lease proven within its usable window: a gc that was frozen
//     and whose lock was taken over stops before deleting more.

import { VmbakError, systemClock, type Clock, type ObjectInfo } from '../core/index.ts';
import type { Repository } from './repository.ts';
import { listBackups } from './backup-list.ts';
import { ChunkTable } from './chunk-table.ts';
import { ChunkIdSet } from './chunk-id-set.ts';
import { listIndexedPacks, readPackIndex } from './chunk-store.ts';
import { forgetCachedPacks } from './chunk-cache-registry.ts';
import { BACKUPS_PREFIX, PACKS_PREFIX, manifestObject, packIdFromObject, packIndexObject, packObject, splitBackupObject } from './layout.ts';
import { acquireLock, listLocks, removeDeadLock } from './locks.ts';
import type { HeldLock } from './lease.ts';
import { GC_LOCK, gcPlanMarker, newGcPlan, readGcPlan, writeGcPlan, type GcPlan } from './gc-plan.ts';
import { PackWriter } from './pack-writer.ts';
import type { PackEntry } from './pack-format.ts';

const REPACK_WASTE_FRACTION = 0.25;

export interface GcReport {
  readonly packsDeleted: number;
  readonly packsRepacked: number;
  readonly packsCondemned: number;
  readonly bytesFreed: number;
  readonly orphanObjectsDeleted: number;
  readonly staleLocksRemoved: number;
  /** Why some unreferenced packs were only condemned, or null. */
  readonly deferredBecause: string | null;
  readonly dryRun: boolean;
}

interface PackState {
  readonly packId: string;
  readonly sizeBytes: number;
  /** The pack's index entries, kept only when the pack is to be repacked. */
  readonly entries: PackEntry[] | null;
  readonly liveBytes: number;
  /** False for a pack whose index object was missing (a crashed writer's, or one still being written). */
  readonly indexed: boolean;
}

export async function runGc(repo: Repository, opts: { dryRun: boolean; clock?: Clock }): Promise<GcReport> {
  const clock = opts.clock ?? systemClock;
  const lock = await acquireLock(repo.target, GC_LOCK, 'gc', 'garbage collection', clock);
  try {
    // Every lock is read before anything is deleted: an unreadable one stops gc here.
    const others = (await listLocks(repo.target, clock)).filter((l) => l.name !== GC_LOCK);
    const liveOps = others.filter((l) => l.status === 'live');
    const dead = others.filter((l) => l.status === 'dead');
    let staleLocksRemoved = 0;
    if (!opts.dryRun) {
      for (const l of dead) {
        await lock.ensureUsable();
        if (await removeDeadLock(repo.target, l)) staleLocksRemoved++;
      }
    } else staleLocksRemoved = dead.length;
    // Listed before the mark: what is written after it is not gc's to judge in this run.
    const packListing = await repo.target.list(PACKS_PREFIX);
    const backupListing = await repo.target.list(BACKUPS_PREFIX);
    const marked = await markReferencedChunks(repo);
    const packs = await surveyPacks(repo, packListing, marked);
    const unreferenced = packs.filter((p) => p.liveBytes === 0);
    const wasteful = packs.filter((p) => p.entries && p.liveBytes > 0);
    const previous = await readGcPlan(repo);
    let deletable: PackState[];
    let condemned: PackState[] = [];
    let deferredBecause: string | null = null;
    if (liveOps.length === 0) {
      // A pack without an index may yet get one from a writer frozen between its two uploads
      // (its lock taken over above): such a pack waits in the plan for one gc, where writers
      // leave it out, and goes on the next run if it is still unreferenced.
      const before = new Set(previous?.condemnedPacks ?? []);
      deletable = unreferenced.filter((p) => p.indexed || before.has(p.packId));
      condemned = unreferenced.filter((p) => !p.indexed && !before.has(p.packId));
      if (condemned.length > 0) deferredBecause = 'packs without an index wait one gc (a writer may still be indexing them)';
    } else {
      const planSeenByAll = previous !== null && liveOps.every((l) => l.owner.gcPlanSeen === gcPlanMarker(previous));
      const inPlan = new Set(planSeenByAll ? previous!.condemnedPacks : []);
      deletable = unreferenced.filter((p) => inPlan.has(p.packId));
      condemned = unreferenced.filter((p) => !inPlan.has(p.packId));
      deferredBecause = `${liveOps.length} other operation(s) running (${liveOps.map((l) => l.owner.purpose).join(', ')})`;
    }
    let orphanObjectsDeleted = 0;
    let packsRepacked = 0;
    if (!opts.dryRun) {
      await lock.assertHeld();
      if (liveOps.length === 0) {
        packsRepacked = await repack(repo, lock, wasteful, marked);
        orphanObjectsDeleted = await deleteOrphanBackupObjects(repo, lock, backupListing);
      }
      for (const p of deletable) await deletePack(repo, lock, p.packId);
      await lock.ensureUsable();
      await writeGcPlan(repo, nextPlan(previous, condemned.map((p) => p.packId), clock));
    }
    return {
      packsDeleted: deletable.length, packsRepacked, packsCondemned: condemned.length,
      bytesFreed: deletable.reduce((s, p) => s + p.sizeBytes, 0) + wasteful.reduce((s, p) => s + p.sizeBytes - p.liveBytes, 0) * (liveOps.length === 0 ? 1 : 0),
      orphanObjectsDeleted, staleLocksRemoved, deferredBecause, dryRun: opts.dryRun,
    };
  } finally {
    await lock.release().catch(() => {});
  }
}

/**
 * The plan keeps its id while it condemns nothing new: operations that read it left out every
 * pack it names, so they need not read it again. New packs need a new id.
 */
function nextPlan(previous: GcPlan | null, condemned: string[], clock: Clock): GcPlan | null {
  if (condemned.length === 0) return null;
  const before = new Set(previous?.condemnedPacks ?? []);
  if (previous && condemned.every((p) => before.has(p))) return { ...previous, condemnedPacks: condemned };
  return newGcPlan(clock.nowMs(), condemned);
}

async function markReferencedChunks(repo: Repository): Promise<ChunkIdSet> {
  const { backups, damaged } = await listBackups(repo);
  if (damaged.length > 0) {
    // What a damaged manifest refers to is unknown: sweeping could delete its data.
    throw new VmbakError('CHECK_FAILED', { count: damaged.length, repo: repo.displayUrl });
  }
  const marked = new ChunkIdSet(8);
  for (const m of backups) {
    for (const d of m.disks) {
      const index = await repo.readDiskIndex(m.backupId, d.name);
      for (let i = 0; i < index.count; i++) if (!index.isZero(i)) marked.add(index.id(i));
    }
  }
  return marked;
}

function isWasteful(sizeBytes: number, liveBytes: number): boolean {
  return liveBytes > 0 && sizeBytes - liveBytes > sizeBytes * REPACK_WASTE_FRACTION;
}

async function surveyPacks(repo: Repository, packListing: readonly ObjectInfo[], marked: ChunkIdSet): Promise<PackState[]> {
  const indexed = new Set(await listIndexedPacks(repo.target));
  const states: PackState[] = [];
  for (const o of packListing) {
    const packId = packIdFromObject(o.name);
    if (!packId) continue;
    // A pack without an index was cut short before its index was written: nothing refers to it.
    const entries = indexed.has(packId) ? await readPackIndex(repo.target, repo.keys, packId) : null;
    const liveBytes = (entries ?? []).filter((e) => marked.has(e.chunkId)).reduce((s, e) => s + e.lengthBytes, 0);
    // Entries are kept only for packs that may be repacked: holding every pack's would cost
    // memory in proportion to the whole repository.
    states.push({ packId, sizeBytes: o.sizeBytes, entries: entries && isWasteful(o.sizeBytes, liveBytes) ? entries : null, liveBytes, indexed: entries !== null });
  }
  return states;
}

async function repack(repo: Repository, lock: HeldLock, packs: PackState[], marked: ChunkIdSet): Promise<number> {
  if (packs.length === 0) return 0;
  const writer = new PackWriter(repo.target, repo.keys, new ChunkTable(), { packSizeBytes: repo.config.packSizeBytes, beforeIndex: () => lock.ensureUsable() });
  for (const p of packs) {
    const data = await repo.target.get(packObject(p.packId));
    for (const e of p.entries!) {
      if (marked.has(e.chunkId) && !writer.knows(e.chunkId)) {
        // Blobs are self-contained (sealed with their chunk id), so they move without re-encoding.
        await writer.add(e.chunkId, Buffer.from(data.subarray(e.offsetBytes, e.offsetBytes + e.lengthBytes)));
      }
    }
  }
  await writer.finish();
  for (const p of packs) await deletePack(repo, lock, p.packId);
  return packs.length;
}

async function deletePack(repo: Repository, lock: HeldLock, packId: string): Promise<void> {
  await lock.ensureUsable();
  // Out of this host's chunk cache first, then the index, then the pack: a crash in between
  // leaves a pack without index, which the next gc removes. (The cache would drop it on its
  // next listing anyway; this saves a process on this host the reconciliation.)
  forgetCachedPacks(repo.config.repositoryId, [packId]);
  await repo.target.delete(packIndexObject(packId));
  await repo.target.delete(packObject(packId));
}

/** Disk indexes without a manifest, among those listed before the mark; manifests are looked up afresh. */
async function deleteOrphanBackupObjects(repo: Repository, lock: HeldLock, listedBeforeMark: readonly ObjectInfo[]): Promise<number> {
  const withManifest = new Set((await repo.target.list(BACKUPS_PREFIX)).map((o) => splitBackupObject(o.name)).filter((s) => s?.[1] === 'manifest').map((s) => s![0]));
  let deleted = 0;
  for (const o of listedBeforeMark) {
    const split = splitBackupObject(o.name);
    if (split && !withManifest.has(split[0]) && o.name !== manifestObject(split[0])) {
      await lock.ensureUsable();
      await repo.target.delete(o.name);
      deleted++;
    }
  }
  return deleted;
}
