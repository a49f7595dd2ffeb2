// Verify as a service: re-read and authenticate every chunk the chosen backups need (all by
// default). The policy: a manifest that cannot be read is a problem like a bad chunk, and any
// problem makes the run a failure (VERIFY_FAILED) — returned beside the problems, so the CLI
// can print them before it exits and the API can record them with the job.

import { VmbakError } from '../core/index.ts';
import { verifyBackups, type VerifyProblem } from '../engine/index.ts';
import { listBackups, resolveBackupRef, type Repository } from '../repository/index.ts';
import type { RestoreRun } from './restore.ts';
import { withWorkerPool } from './worker-pools.ts';

export interface VerifyResult {
  readonly backupsChecked: number;
  readonly bytesChecked: number;
  readonly problems: readonly VerifyProblem[];
  /** VERIFY_FAILED when there is any problem, else null. */
  readonly failure: VmbakError | null;
}

/** refs: backup ids, `latest` or `VM@latest`; none: every backup. */
export async function verifyRepository(repo: Repository, refs: readonly string[], run: RestoreRun): Promise<VerifyResult> {
  const listing = refs.length ? { backups: await Promise.all(refs.map((r) => resolveBackupRef(repo, r))), damaged: [] } : await listBackups(repo);
  const found = await withWorkerPool(repo, run, (pool) => verifyBackups(repo, listing.backups, pool, run.signal, run.progress));
  const problems = [...listing.damaged.map((d) => ({ backupId: d.backupId, disk: null, offsetBytes: null, message: d.detail })), ...found];
  return {
    backupsChecked: listing.backups.length,
    bytesChecked: run.progress.bytesRead,
    problems,
    failure: problems.length > 0 ? new VmbakError('VERIFY_FAILED', { count: problems.length, repo: repo.displayUrl }) : null,
  };
}
