// Schedule claims: each firing of a policy's schedule is a (policy, fire time) row whose
// primary key makes the claim. Every controller that sees the firing tries the INSERT; the
// database lets exactly one succeed — across processes, restarts and (with PostgreSQL)
// machines — so a firing runs once. After downtime the scheduler claims only the newest
// missed firing (lastClaimedFiring tells it where it left off), not each one.

import { hostname } from 'node:os';
import type { Catalog } from './open.ts';

export const defaultClaimant = (): string => `${hostname()}:${process.pid}`;

/** True for exactly one caller per (policy, fireTimeMs); false for every other. */
export async function claimFiring(catalog: Catalog, policy: string, fireTimeMs: number, claimedBy = defaultClaimant()): Promise<boolean> {
  const result = await catalog.db.insertInto('schedule_claims')
    .values({ policy, fire_ms: fireTimeMs, claimed_ms: catalog.clock.nowMs(), claimed_by: claimedBy, job_id: null })
    .onConflict((oc) => oc.columns(['policy', 'fire_ms']).doNothing())
    .executeTakeFirst();
  return result.numInsertedOrUpdatedRows === 1n;
}

/** Links a claimed firing to the job it started. */
export async function setClaimJob(catalog: Catalog, policy: string, fireTimeMs: number, jobId: string): Promise<void> {
  await catalog.db.updateTable('schedule_claims').set({ job_id: jobId })
    .where('policy', '=', policy).where('fire_ms', '=', fireTimeMs).execute();
}

/** The newest firing of `policy` that anyone claimed, or null. */
export async function lastClaimedFiring(catalog: Catalog, policy: string): Promise<number | null> {
  const row = await catalog.db.selectFrom('schedule_claims').select((eb) => eb.fn.max('fire_ms').as('last'))
    .where('policy', '=', policy).executeTakeFirst();
  return row?.last ?? null;
}

/**
 * Drops claims older than `beforeMs` (they only guard against running a firing twice), but
 * never a policy's or a care task's newest, which lastClaimed… needs.
 */
export async function pruneClaims(catalog: Catalog, beforeMs: number): Promise<number> {
  const policies = await catalog.db.deleteFrom('schedule_claims')
    .where('fire_ms', '<', beforeMs)
    .where('fire_ms', '<', (eb) => eb.selectFrom('schedule_claims as newest').select((e) => e.fn.max('newest.fire_ms').as('m'))
      .whereRef('newest.policy', '=', 'schedule_claims.policy'))
    .executeTakeFirst();
  const care = await catalog.db.deleteFrom('care_claims')
    .where('fire_ms', '<', beforeMs)
    .where('fire_ms', '<', (eb) => eb.selectFrom('care_claims as newest').select((e) => e.fn.max('newest.fire_ms').as('m'))
      .whereRef('newest.repository', '=', 'care_claims.repository').whereRef('newest.task', '=', 'care_claims.task'))
    .executeTakeFirst();
  return Number(policies.numDeletedRows) + Number(care.numDeletedRows);
}

/** A repository care task's firing (verify, gc): claimed once, like a policy's. */
export async function claimCareFiring(catalog: Catalog, repository: string, task: string, fireTimeMs: number, claimedBy = defaultClaimant()): Promise<boolean> {
  const result = await catalog.db.insertInto('care_claims')
    .values({ repository, task, fire_ms: fireTimeMs, claimed_ms: catalog.clock.nowMs(), claimed_by: claimedBy, job_id: null })
    .onConflict((oc) => oc.columns(['repository', 'task', 'fire_ms']).doNothing())
    .executeTakeFirst();
  return result.numInsertedOrUpdatedRows === 1n;
}

export async function setCareClaimJob(catalog: Catalog, repository: string, task: string, fireTimeMs: number, jobId: string): Promise<void> {
  await catalog.db.updateTable('care_claims').set({ job_id: jobId })
    .where('repository', '=', repository).where('task', '=', task).where('fire_ms', '=', fireTimeMs).execute();
}

export async function lastClaimedCareFiring(catalog: Catalog, repository: string, task: string): Promise<number | null> {
  const row = await catalog.db.selectFrom('care_claims').select((eb) => eb.fn.max('fire_ms').as('last'))
    .where('repository', '=', repository).where('task', '=', task).executeTakeFirst();
  return row?.last ?? null;
}
