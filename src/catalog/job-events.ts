// A job's log lines, in order: what the console shows under a job and what a live view tails
// (listJobEvents with afterId returns only lines added since the last call).

import type { Catalog } from './open.ts';

export type JobEventLevel = 'debug' | 'info' | 'warning' | 'error';

export interface JobEvent {
  readonly id: number;
  readonly jobId: string;
  readonly timeMs: number;
  readonly level: JobEventLevel;
  readonly vmKey: string | null;
  readonly message: string;
}

export async function appendJobEvent(catalog: Catalog, jobId: string, level: JobEventLevel, message: string, vmKey: string | null = null): Promise<number> {
  const row = await catalog.db.insertInto('job_events')
    .values({ job_id: jobId, time_ms: catalog.clock.nowMs(), level, vm_key: vmKey, message })
    .returning('id').executeTakeFirstOrThrow();
  return Number(row.id);
}

/** The job's lines after `afterId` (all when 0), oldest first, at most `limit`. */
export async function listJobEvents(catalog: Catalog, jobId: string, afterId = 0, limit = 1000): Promise<JobEvent[]> {
  const rows = await catalog.db.selectFrom('job_events').selectAll()
    .where('job_id', '=', jobId).where('id', '>', afterId).orderBy('id').limit(limit).execute();
  return rows.map((r) => ({
    id: Number(r.id), jobId: r.job_id, timeMs: r.time_ms, level: r.level as JobEventLevel, vmKey: r.vm_key, message: r.message,
  }));
}
