// Keeping a repository healthy, as the CLI, the API and the scheduler's retention and care
// runs share it: listing backups, prune as a plan and its execution (a dry run is the plan),
// gc, and check. The policies: prune refuses to plan over a listing with unreadable manifests
// (a backup it cannot see could be the one a rule should keep), and a check with errors is a
// failure (CHECK_FAILED) returned beside its report.

import { VmbakError } from '../core/index.ts';
import {
  checkRepository, executePrune, listBackups, matchesVm, planPrune,
  type BackupListing, type CheckReport, type PrunePlan, type Repository, type RetentionPolicy,
} from '../repository/index.ts';

/** The repository's backups, oldest first, or one VM's (name or UUID). Damaged manifests are listed apart. */
export async function listRepositoryBackups(repo: Repository, vm?: string): Promise<BackupListing> {
  const listing = await listBackups(repo);
  return vm === undefined ? listing : { ...listing, backups: listing.backups.filter((m) => matchesVm(m, vm)) };
}

/** Which backups the retention rules keep (per VM) and which go; only this VM's when given. */
export async function planRepositoryPrune(repo: Repository, retention: RetentionPolicy, vm?: string): Promise<PrunePlan> {
  const listing = await listBackups(repo);
  if (listing.damaged.length > 0) throw new VmbakError('CHECK_FAILED', { count: listing.damaged.length, repo: repo.displayUrl });
  const chosen = vm !== undefined ? listing.backups.filter((m) => matchesVm(m, vm)) : listing.backups;
  return planPrune(chosen, retention);
}

/** Deletes what the plan removes (manifests first); space is freed by the next gc. */
export function executeRepositoryPrune(repo: Repository, plan: PrunePlan): Promise<void> {
  return executePrune(repo, plan);
}

export interface CheckResult {
  readonly report: CheckReport;
  /** CHECK_FAILED when the report holds errors, else null. */
  readonly failure: VmbakError | null;
}

export async function checkRepositoryHealth(repo: Repository, opts: { readData: boolean }): Promise<CheckResult> {
  const report = await checkRepository(repo, { readPacks: opts.readData });
  return { report, failure: report.errors.length > 0 ? new VmbakError('CHECK_FAILED', { count: report.errors.length, repo: repo.displayUrl }) : null };
}
