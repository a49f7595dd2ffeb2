// Jobs as the controller records them: queued → running ⇄ paused → succeeded / warning /
// failed / aborted / interrupted. A state change is one conditional UPDATE (…WHERE state IN
// the states it may come from), so two processes racing to change a job cannot both win,
// and a finished job never changes again — a retry is a new job. A controller that starts
// marks its predecessor's running and paused jobs interrupted.

import { randomBytes } from 'node:crypto';
import { isPostgres } from './migrations/portable.ts';
import { sql } from 'kysely';
import { VmbakError } from '../core/index.ts';
import type { Catalog } from './open.ts';
import { decodeCursor, encodeCursor, pageLimit, type Page, type PageRequest } from './records.ts';
import type { JobTable } from './schema.ts';

export type JobKind = 'backup' | 'verify' | 'prune' | 'gc' | 'copy' | 'restore' | 'sync' | 'index';
export type JobState = 'queued' | 'running' | 'paused' | 'succeeded' | 'warning' | 'failed' | 'aborted' | 'interrupted';
export type JobTrigger = 'schedule' | 'manual' | 'retry';

export const FINISHED_JOB_STATES: readonly JobState[] = ['succeeded', 'warning', 'failed', 'aborted', 'interrupted'];

/** The states each state may be entered from. */
const ENTERED_FROM: Record<JobState, readonly JobState[]> = {
  queued: [],
  running: ['queued', 'paused'],
  paused: ['running'],
  succeeded: ['running'],
  warning: ['running'],
  failed: ['queued', 'running', 'paused'],
  aborted: ['queued', 'running', 'paused'],
  interrupted: ['queued', 'running', 'paused'],
};

export interface CatalogJob {
  readonly id: string;
  readonly kind: JobKind;
  readonly policy: string | null;
  readonly state: JobState;
  readonly trigger: JobTrigger;
  readonly host: string | null;
  readonly params: Readonly<Record<string, unknown>>;
  readonly createdMs: number;
  readonly startedMs: number | null;
  readonly finishedMs: number | null;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly error: string | null;
}

export interface NewJob {
  readonly id?: string;
  readonly kind: JobKind;
  readonly policy?: string | null;
  readonly trigger: JobTrigger;
  readonly host?: string | null;
  /** What the job works on (VM selectors, repository, the job it retries …), as JSON. */
  readonly params?: Record<string, unknown>;
}

/** A job id that sorts by creation time: j + 9 base-36 digits of ms + 8 random hex digits. */
export function newJobId(nowMs: number): string {
  return `j${nowMs.toString(36).padStart(9, '0')}${randomBytes(4).toString('hex')}`;
}

export async function createJob(catalog: Catalog, job: NewJob): Promise<CatalogJob> {
  const nowMs = catalog.clock.nowMs();
  const row: JobTable = {
    id: job.id ?? newJobId(nowMs), kind: job.kind, policy: job.policy ?? null, state: 'queued', trigger: job.trigger,
    host: job.host ?? null, params_json: JSON.stringify(job.params ?? {}), created_ms: nowMs, started_ms: null,
    finished_ms: null, bytes_read: 0, bytes_written: 0, error: null,
  };
  await catalog.db.insertInto('jobs').values(row).execute();
  return toJob(row);
}

/** Moves a job to `state`; JOB_NOT_RUNNING when its current state does not allow it. */
export async function setJobState(catalog: Catalog, jobId: string, state: JobState, error: string | null = null): Promise<CatalogJob> {
  const nowMs = catalog.clock.nowMs();
  const finished = FINISHED_JOB_STATES.includes(state);
  const result = await catalog.db.updateTable('jobs')
    .set((eb) => ({
      state,
      error: finished ? error : eb.ref('error'),
      started_ms: state === 'running' ? eb.fn.coalesce('started_ms', eb.val(nowMs)) : eb.ref('started_ms'),
      finished_ms: finished ? nowMs : null,
    }))
    .where('id', '=', jobId).where('state', 'in', ENTERED_FROM[state])
    .executeTakeFirst();
  const job = await getJob(catalog, jobId);
  if (!job) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'job', name: jobId });
  if (result.numUpdatedRows === 0n) throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: `made ${state}`, detail: `it is ${job.state}` });
  return job;
}

/** Records a running job's byte counts (totals so far, not increments). */
export async function setJobProgress(catalog: Catalog, jobId: string, bytesRead: number, bytesWritten: number): Promise<void> {
  await catalog.db.updateTable('jobs').set({ bytes_read: bytesRead, bytes_written: bytesWritten }).where('id', '=', jobId).execute();
}

export async function getJob(catalog: Catalog, jobId: string): Promise<CatalogJob | null> {
  const row = await catalog.db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
  return row ? toJob(row) : null;
}

export interface JobFilter extends PageRequest {
  readonly state?: JobState;
  readonly policy?: string;
  readonly kind?: JobKind;
}

/** Newest first, paged by a keyset cursor over (created_ms, id). */
export async function listJobs(catalog: Catalog, filter: JobFilter = {}): Promise<Page<CatalogJob>> {
  const limit = pageLimit(filter);
  let q = catalog.db.selectFrom('jobs');
  if (filter.state) q = q.where('state', '=', filter.state);
  if (filter.policy) q = q.where('policy', '=', filter.policy);
  if (filter.kind) q = q.where('kind', '=', filter.kind);
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let pageQuery = q.selectAll().orderBy('created_ms', 'desc').orderBy('id', 'desc').limit(limit + 1);
  if (filter.cursor) {
    const [createdMs, id] = decodeCursor(filter.cursor, ['number', 'string']) as [number, string];
    pageQuery = pageQuery.where((eb) => eb(eb.refTuple('created_ms', 'id'), '<', eb.tuple(createdMs, id)));
  }
  const rows = await pageQuery.execute();
  const items = rows.slice(0, limit).map(toJob);
  const last = items.at(-1);
  return { items, total: Number(total.n), next: rows.length > limit && last ? encodeCursor([last.createdMs, last.id]) : null };
}

/** The oldest queued, running or paused job of a policy's kind on a host (null host: any), or null. */
export async function activePolicyJob(catalog: Catalog, kind: JobKind, policy: string, host: string | null): Promise<CatalogJob | null> {
  let q = catalog.db.selectFrom('jobs').selectAll()
    .where('kind', '=', kind).where('policy', '=', policy).where('state', 'in', ['queued', 'running', 'paused']);
  if (host !== null) q = q.where('host', '=', host);
  const row = await q.orderBy('created_ms').limit(1).executeTakeFirst();
  return row ? toJob(row) : null;
}

/** How many jobs created since `sinceMs` are in each state (the dashboard's last 24 hours). */
export async function countJobsByState(catalog: Catalog, sinceMs: number): Promise<Partial<Record<JobState, number>>> {
  // `+state` keeps SQLite off the jobs_state index (a scan of the whole history: 5 ms at a year
  // of 100 policies) and on jobs_created, which reads only the jobs since sinceMs. PostgreSQL's
  // planner picks by statistics, and has no unary + on text.
  const rows = await catalog.db.selectFrom('jobs').select(['state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('created_ms', '>=', sinceMs).groupBy(isPostgres(catalog.db) ? sql`state` : sql`+state`).execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/** Marks the running and paused jobs of `host` (all hosts when null) interrupted; returns their ids. */
export async function markJobsInterrupted(catalog: Catalog, host: string | null, reason: string): Promise<string[]> {
  let q = catalog.db.updateTable('jobs')
    .set({ state: 'interrupted', finished_ms: catalog.clock.nowMs(), error: reason })
    .where('state', 'in', ['running', 'paused']);
  if (host !== null) q = q.where('host', '=', host);
  return (await q.returning('id').execute()).map((r) => r.id).sort();
}

/** Deletes finished jobs created before `beforeMs`, with their per-VM results and log lines; returns how many. */
export async function deleteJobsBefore(catalog: Catalog, beforeMs: number): Promise<number> {
  const result = await catalog.db.deleteFrom('jobs')
    .where('created_ms', '<', beforeMs).where('state', 'in', FINISHED_JOB_STATES).executeTakeFirst();
  return Number(result.numDeletedRows);
}

function toJob(row: JobTable): CatalogJob {
  return {
    id: row.id, kind: row.kind as JobKind, policy: row.policy, state: row.state as JobState, trigger: row.trigger as JobTrigger,
    host: row.host, params: JSON.parse(row.params_json) as Record<string, unknown>, createdMs: row.created_ms,
    startedMs: row.started_ms, finishedMs: row.finished_ms, bytesRead: row.bytes_read, bytesWritten: row.bytes_written, error: row.error,
  };
}
