// Copying backups into another repository (an offsite copy), as a plan — which backups travel,
// which the destination holds already — and its execution with a worker pool per repository.
// The selection policy: explicit backups (each once), one VM's, or all; a listing with
// unreadable manifests is refused for the VM and all forms, and an empty selection is an error.

import { VmbakError } from '../core/index.ts';
import { executeCopy, planCopy, type CopiedBackup, type CopyPlan } from '../engine/index.ts';
import { listBackups, matchesVm, resolveBackupRef, type Manifest, type Repository } from '../repository/index.ts';
import type { RestoreRun } from './restore.ts';
import { withWorkerPool } from './worker-pools.ts';

export type CopySelection =
  | { readonly backups: readonly string[] }
  | { readonly vm: string }
  | { readonly all: true };

export async function planBackupCopy(from: Repository, to: Repository, selection: CopySelection): Promise<CopyPlan> {
  return planCopy(from, to, await selectBackups(from, selection));
}

export interface CopyRun extends RestoreRun {
  readonly onCopied?: (c: CopiedBackup) => void;
}

export function copyBackups(plan: CopyPlan, run: CopyRun): Promise<CopiedBackup[]> {
  return withWorkerPool(plan.from, run, (fromPool) => withWorkerPool(plan.to, run, (toPool) => executeCopy(plan, {
    fromPool, toPool, signal: run.signal, progress: run.progress, onCopied: run.onCopied,
  })));
}

async function selectBackups(from: Repository, selection: CopySelection): Promise<Manifest[]> {
  if ('backups' in selection) {
    const chosen = await Promise.all(selection.backups.map((r) => resolveBackupRef(from, r)));
    return [...new Map(chosen.map((m) => [m.backupId, m])).values()];
  }
  const listing = await listBackups(from);
  if (listing.damaged.length > 0) throw new VmbakError('CHECK_FAILED', { count: listing.damaged.length, repo: from.displayUrl });
  const vm = 'vm' in selection ? selection.vm : undefined;
  const chosen = vm !== undefined ? listing.backups.filter((m) => matchesVm(m, vm)) : listing.backups;
  if (chosen.length === 0) throw new VmbakError('BACKUP_NOT_FOUND', { backupId: vm !== undefined ? `${vm}@*` : '*', repo: from.displayUrl });
  return chosen;
}
