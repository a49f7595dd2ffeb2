// Pause, resume and abort asked of a controller that does not hold the job: with two
// controllers, the API call may reach the one that did not queue it. The request waits here
// (one per job, the newest wins) until the holding controller takes it — or, when that one
// is gone, the controller the job's agent reports to.

import type { Catalog } from './open.ts';

export type RequestedControl = 'pause' | 'resume' | 'abort';

export async function requestJobControl(catalog: Catalog, jobId: string, action: RequestedControl, requestedBy: string): Promise<void> {
  const requested_ms = catalog.clock.nowMs();
  await catalog.db.insertInto('job_controls').values({ job_id: jobId, action, requested_ms, requested_by: requestedBy })
    .onConflict((oc) => oc.column('job_id').doUpdateSet({ action, requested_ms, requested_by: requestedBy }))
    .execute();
}

/** Requests waiting for any of `jobIds`, removed as they are returned (each is taken once). */
export async function takeJobControls(catalog: Catalog, jobIds: readonly string[]): Promise<Map<string, RequestedControl>> {
  if (jobIds.length === 0) return new Map();
  const rows = await catalog.db.deleteFrom('job_controls').where('job_id', 'in', jobIds).returning(['job_id', 'action']).execute();
  return new Map(rows.map((r) => [r.job_id, r.action as RequestedControl]));
}

/** True when any request waits (one cheap query before takeJobControls). */
export async function anyJobControls(catalog: Catalog): Promise<boolean> {
  return (await catalog.db.selectFrom('job_controls').select('job_id').limit(1).executeTakeFirst()) !== undefined;
}
