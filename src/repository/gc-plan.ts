// The gc plan: packs that gc found unreferenced while other operations were running, so it
// could not delete them yet. Writers leave condemned packs out of their chunk table (they
// store such a chunk anew rather than refer to it) and record the plan's id in their lock; a
// later gc deletes a condemned pack once every operation still running has recorded that it
// read this plan — none of them can then refer to the pack. Ids, not times: no host's clock
// decides it. See "Garbage collection" in docs/format.md.

import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { VmbakError, isVmbakError, systemClock, type Clock } from '../core/index.ts';
import type { Repository } from './repository.ts';
import { GC_PLAN_OBJECT } from './layout.ts';
import { openObject, sealObject } from './codec.ts';
import { describeOwner, listLocks, removeDeadLock } from './locks.ts';
import type { HeldLock } from './lease.ts';
import { loadChunkTable } from './chunk-store.ts';
import type { ChunkTable } from './chunk-table.ts';

const planSchema = z.object({
  /** Plans written before ids existed get their creation time as id. */
  id: z.string().optional(),
  createdMs: z.number(),
  condemnedPacks: z.array(z.string()),
});
export type GcPlan = z.infer<typeof planSchema>;
export const GC_LOCK = 'gc';

export async function readGcPlan(repo: Repository): Promise<GcPlan | null> {
  let blob: Buffer;
  try {
    blob = await repo.target.get(GC_PLAN_OBJECT);
  } catch (err) {
    if (isVmbakError(err, 'OBJECT_MISSING')) return null;
    throw err;
  }
  const data = openObject(repo.keys, blob, GC_PLAN_OBJECT);
  const parsed = data ? planSchema.safeParse(JSON.parse(data.toString('utf8'))) : null;
  if (!parsed?.success) throw new VmbakError('REPO_CONFIG_CORRUPT', { repo: repo.displayUrl, detail: 'the gc plan is damaged' });
  return { ...parsed.data, id: parsed.data.id ?? String(parsed.data.createdMs) };
}

/** What an operation records in its lock after reading the plan: the plan's id, '' for none. */
export function gcPlanMarker(plan: GcPlan | null): string {
  return plan ? plan.id ?? String(plan.createdMs) : '';
}

export function newGcPlan(createdMs: number, condemnedPacks: string[]): GcPlan {
  return { id: randomUUID(), createdMs, condemnedPacks };
}

/**
 * Records in the operation's lock which gc plan it has seen: a gc deletes a plan's condemned
 * packs only once every live operation has. Readers (restore, verify, copy's source) call it
 * right after taking their lock; writers through openChunkTableForWriting.
 */
export async function noteGcPlan(repo: Repository, lock: HeldLock): Promise<GcPlan | null> {
  const plan = await readGcPlan(repo);
  await lock.note({ gcPlanSeen: gcPlanMarker(plan) });
  return plan;
}

export async function writeGcPlan(repo: Repository, plan: GcPlan | null): Promise<void> {
  if (!plan || plan.condemnedPacks.length === 0) return repo.target.delete(GC_PLAN_OBJECT);
  await repo.target.put(GC_PLAN_OBJECT, sealObject(repo.keys, Buffer.from(JSON.stringify(plan)), GC_PLAN_OBJECT));
}

/**
 * The chunk table a writer may dedup against. Call it after taking the writer's own lock: gc
 * takes its lock before it looks for others, so one of the two always sees the other. A dead
 * gc's lock is taken over first, so that gc, should it wake, finds its lease gone before it
 * deletes anything more.
 */
export async function openChunkTableForWriting(repo: Repository, lock: HeldLock, clock: Clock = systemClock): Promise<ChunkTable> {
  const gc = (await listLocks(repo.target, clock)).find((l) => l.name === GC_LOCK);
  if (gc?.status === 'live') throw new VmbakError('REPO_LOCKED', { what: 'the repository', repo: repo.displayUrl, owner: describeOwner(gc.owner) });
  if (gc?.status === 'dead' && !(await removeDeadLock(repo.target, gc))) {
    throw new VmbakError('REPO_LOCKED', { what: 'the repository', repo: repo.displayUrl, owner: 'a gc (its lock just changed hands)' });
  }
  const plan = await noteGcPlan(repo, lock);
  return loadChunkTable(repo.target, repo.keys, new Set(plan?.condemnedPacks ?? []), repo.config.repositoryId);
}
