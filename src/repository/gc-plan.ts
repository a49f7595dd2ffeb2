// The gc plan: packs that gc found unreferenced while other operations were running, so it
// could not delete them yet. Writers leave condemned packs out of their chunk table (they
// store such a chunk anew rather than refer to it); a later gc deletes a condemned pack once
// every operation still running started after the plan was written — none of them can
// then refer to it. See "Garbage collection" in docs/format.md.

import { z } from 'zod';
import { VmbakError, isVmbakError } from '../core/index.ts';
import type { Repository } from './repository.ts';
import { GC_PLAN_OBJECT } from './layout.ts';
import { openObject, sealObject } from './codec.ts';
import { listLocks, isOwnerAlive, describeOwner } from './locks.ts';
import { loadChunkTable } from './chunk-store.ts';
import type { ChunkTable } from './chunk-table.ts';

const planSchema = z.object({ createdMs: z.number(), condemnedPacks: z.array(z.string()) });
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
  return parsed.data;
}

export async function writeGcPlan(repo: Repository, plan: GcPlan | null): Promise<void> {
  if (!plan || plan.condemnedPacks.length === 0) return repo.target.delete(GC_PLAN_OBJECT);
  await repo.target.put(GC_PLAN_OBJECT, sealObject(repo.keys, Buffer.from(JSON.stringify(plan)), GC_PLAN_OBJECT));
}

/**
 * The chunk table a writer may dedup against. Call it after taking the writer's own lock: gc
 * takes its lock before it looks for others, so one of the two always sees the other.
 */
export async function openChunkTableForWriting(repo: Repository): Promise<ChunkTable> {
  for (const { name, owner } of await listLocks(repo.target)) {
    if (name === GC_LOCK && owner && isOwnerAlive(owner)) {
      throw new VmbakError('REPO_LOCKED', { what: 'the repository', repo: repo.displayUrl, owner: describeOwner(owner) });
    }
  }
  const plan = await readGcPlan(repo);
  return loadChunkTable(repo.target, repo.keys, new Set(plan?.condemnedPacks ?? []), repo.config.repositoryId);
}
