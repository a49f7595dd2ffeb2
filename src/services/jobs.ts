// Control of this host's running backups through their job records: list them (a record
// whose owner died is removed on the way) and pause, resume or abort one by signalling its
// owner process, then wait until the owner confirms the new state. A job on another host is
// listed but never signalled. The API will drive the same control for the jobs it runs itself.

import { setTimeout as sleep } from 'node:timers/promises';
import { VmbakError, type Hypervisor } from '../core/index.ts';
import { jobOwnerStatus, jobsDir, readJobRecords, removeJobRecord, type JobRecord } from '../jobs/index.ts';

export type JobAction = 'pause' | 'resume' | 'abort';

/** The signal each action sends to the job's process, and the record state that confirms it. */
export const JOB_ACTIONS: Readonly<Record<JobAction, { signal: NodeJS.Signals; verb: string; done: (r: JobRecord | null) => boolean }>> = {
  pause: { signal: 'SIGUSR1', verb: 'paused', done: (r) => r?.state === 'paused' },
  resume: { signal: 'SIGUSR2', verb: 'resumed', done: (r) => r?.state === 'running' },
  abort: { signal: 'SIGTERM', verb: 'aborted', done: (r) => r === null || r.state === 'aborting' },
};

export interface JobListing extends JobRecord {
  /** The job runs on another host (shown, never signalled). */
  readonly foreign: boolean;
  /** The hypervisor backup runs this job's process holds open right now. */
  readonly hotRuns: readonly { runId: string; vm: string; checkpoint: string | null }[];
}

export interface JobsLocation {
  /** Run records directory; default VMBAK_STATE_DIR or /var/lib/vmbak/runs. */
  readonly stateDir?: string;
}

export async function listJobs(where: JobsLocation, hypervisor: Hypervisor): Promise<JobListing[]> {
  const dir = jobsDir(where.stateDir);
  const live: JobRecord[] = [];
  for (const r of readJobRecords(dir)) {
    if (jobOwnerStatus(r) === 'dead') removeJobRecord(dir, r.jobId);
    else live.push(r);
  }
  const runs = await hypervisor.listActiveRuns();
  return live.map((j) => ({
    ...j,
    foreign: jobOwnerStatus(j) === 'foreign',
    hotRuns: runs.filter((r) => r.host === j.host && r.pid === j.pid).map((r) => ({ runId: r.runId, vm: r.vmName, checkpoint: r.checkpoint })),
  }));
}

/** Signals the job's owner and waits up to confirmMs for it to publish the new state. */
export async function controlJob(jobId: string, action: JobAction, where: JobsLocation, confirmMs = 5000): Promise<void> {
  const { signal, verb, done } = JOB_ACTIONS[action];
  const dir = jobsDir(where.stateDir);
  const record = readJobRecords(dir).find((r) => r.jobId === jobId);
  if (!record) throw new VmbakError('JOB_NOT_FOUND', { jobId });
  const status = jobOwnerStatus(record);
  if (status === 'foreign') throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: verb, detail: `it runs on host ${record.host}; run this there` });
  if (status === 'dead') {
    removeJobRecord(dir, jobId);
    throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: verb, detail: `its process ${record.pid} is gone (the next backup cleans up after it)` });
  }
  process.kill(record.pid, signal);
  const deadline = Date.now() + confirmMs;
  for (;;) {
    const now = readJobRecords(dir).find((r) => r.jobId === jobId) ?? null;
    if (done(now) || now === null) return;
    if (Date.now() > deadline) {
      throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: verb, detail: `process ${record.pid} did not confirm within ${confirmMs / 1000} s` });
    }
    await sleep(100);
  }
}
