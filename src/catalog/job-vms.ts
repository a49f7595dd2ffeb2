// Per-VM results of a job: one row per (job, VM), rewritten as the VM's backup moves on, so a
// job's page shows which VMs succeeded, which failed and why, and what each wrote where.

import type { Catalog } from './open.ts';
import type { JobVmTable } from './schema.ts';

export type JobVmState = 'queued' | 'running' | 'succeeded' | 'warning' | 'failed' | 'aborted' | 'skipped' | 'interrupted';

export interface JobVmResult {
  readonly vmKey: string;
  readonly vmName: string;
  readonly state: JobVmState;
  readonly repository?: string | null;
  readonly backupId?: string | null;
  readonly startedMs?: number | null;
  readonly finishedMs?: number | null;
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
  readonly error?: string | null;
}

export type JobVmRecord = Required<JobVmResult> & { readonly jobId: string };

/** Records (or replaces) the result of one VM of a job. */
export async function recordJobVm(catalog: Catalog, jobId: string, r: JobVmResult): Promise<void> {
  const row = {
    vm_name: r.vmName, state: r.state, repository: r.repository ?? null, backup_id: r.backupId ?? null,
    started_ms: r.startedMs ?? null, finished_ms: r.finishedMs ?? null, bytes_read: r.bytesRead ?? 0,
    bytes_written: r.bytesWritten ?? 0, error: r.error ?? null,
  };
  await catalog.db.insertInto('job_vms').values({ job_id: jobId, vm_key: r.vmKey, ...row })
    .onConflict((oc) => oc.columns(['job_id', 'vm_key']).doUpdateSet(row))
    .execute();
}

export async function listJobVms(catalog: Catalog, jobId: string): Promise<JobVmRecord[]> {
  const rows = await catalog.db.selectFrom('job_vms').selectAll().where('job_id', '=', jobId).orderBy('vm_name').execute();
  return rows.map(toRecord);
}

/** VM counts per state for each of `jobIds` (for a job list page). */
export async function countJobVms(catalog: Catalog, jobIds: readonly string[]): Promise<Map<string, Partial<Record<JobVmState, number>>>> {
  const counts = new Map<string, Partial<Record<JobVmState, number>>>(jobIds.map((id) => [id, {}]));
  if (jobIds.length === 0) return counts;
  const rows = await catalog.db.selectFrom('job_vms')
    .select(['job_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
    .where('job_id', 'in', jobIds).groupBy(['job_id', 'state']).execute();
  for (const row of rows) counts.get(row.job_id)![row.state as JobVmState] = Number(row.n);
  return counts;
}

const toRecord = (row: JobVmTable): JobVmRecord => ({
  jobId: row.job_id, vmKey: row.vm_key, vmName: row.vm_name, state: row.state as JobVmState, repository: row.repository,
  backupId: row.backup_id, startedMs: row.started_ms, finishedMs: row.finished_ms, bytesRead: row.bytes_read,
  bytesWritten: row.bytes_written, error: row.error,
});
