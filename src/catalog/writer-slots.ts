// A repository's concurrent-writer limit, kept in the catalog so it holds across every
// controller sharing it (and every host their agents run on). Slot k of a repository is a
// row; taking one is an insert that, on conflict, takes the row over only when the job
// holding it is no longer active — one statement, so two controllers racing for a slot
// cannot both win. A finished job's slots are free at once even if its controller died
// before releasing them: the job's state is the lease.

import { FINISHED_JOB_STATES } from './jobs.ts';
import type { Catalog } from './open.ts';

/**
 * Takes a slot (of `limit`) on each repository for the job. All or nothing: returns null when
 * the job holds a slot on every one, otherwise the first repository that was full (and
 * whatever it took is released).
 */
export async function takeWriterSlots(
  catalog: Catalog, jobId: string, repositories: readonly string[], limit: number, holder: string,
): Promise<string | null> {
  for (const repository of repositories) {
    if (!await takeOne(catalog, jobId, repository, limit, holder)) {
      await releaseWriterSlots(catalog, jobId);
      return repository;
    }
  }
  return null;
}

async function takeOne(catalog: Catalog, jobId: string, repository: string, limit: number, holder: string): Promise<boolean> {
  const held = await catalog.db.selectFrom('writer_slots').select('slot')
    .where('repository', '=', repository).where('job_id', '=', jobId).executeTakeFirst();
  if (held) return true;
  const nowMs = catalog.clock.nowMs();
  for (let slot = 0; slot < limit; slot++) {
    const result = await catalog.db.insertInto('writer_slots')
      .values({ repository, slot, job_id: jobId, holder, taken_ms: nowMs })
      .onConflict((oc) => oc.columns(['repository', 'slot'])
        .doUpdateSet({ job_id: jobId, holder, taken_ms: nowMs })
        .where((eb) => eb.not(eb.exists(eb.selectFrom('jobs').select('jobs.id')
          .whereRef('jobs.id', '=', 'writer_slots.job_id')
          .where('jobs.state', 'not in', FINISHED_JOB_STATES)))))
      .executeTakeFirst();
    if (result.numInsertedOrUpdatedRows === 1n) return true;
  }
  return false;
}

export async function releaseWriterSlots(catalog: Catalog, jobId: string): Promise<void> {
  await catalog.db.deleteFrom('writer_slots').where('job_id', '=', jobId).execute();
}

/** Jobs holding a slot of the repository now (active jobs only). */
export async function countWriters(catalog: Catalog, repository: string): Promise<number> {
  const row = await catalog.db.selectFrom('writer_slots').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('repository', '=', repository)
    .where((eb) => eb.exists(eb.selectFrom('jobs').select('jobs.id')
      .whereRef('jobs.id', '=', 'writer_slots.job_id')
      .where('jobs.state', 'not in', FINISHED_JOB_STATES)))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
