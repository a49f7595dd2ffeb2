// Restores, as the CLI and the API run them: a backup's disks into a directory, or the whole
// VM through the hypervisor — as a new VM, or in place over the original after a plan that a
// person (or an API client) confirms. The worker pool is set up and closed here; choosing the
// backup and asking for confirmation are the caller's.

import type { Hypervisor } from '../core/index.ts';
import {
  executeInPlaceRestore, planInPlaceRestore, describeInPlacePlan, restoreAsNewVm, restoreBackup,
  type InPlacePlan, type ProgressCounters, type RestoredDisk, type RestoredVm,
} from '../engine/index.ts';
import type { Manifest, Repository } from '../repository/index.ts';
import { withWorkerPool, type PoolLimits } from './worker-pools.ts';

export interface RestoreRun extends PoolLimits {
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
}

export interface DiskRestoreRequest {
  readonly repo: Repository;
  readonly backup: Manifest;
  readonly toDir: string;
  /** Only this disk; null: every disk. */
  readonly disk: string | null;
  readonly format: 'raw' | 'qcow2';
  /** Prove each restored disk against the digest recorded at backup time. */
  readonly verify: boolean;
}

export function restoreDisks(req: DiskRestoreRequest, run: RestoreRun): Promise<RestoredDisk[]> {
  return withWorkerPool(req.repo, run, (pool) => restoreBackup({
    repo: req.repo, manifest: req.backup, toDir: req.toDir, disk: req.disk, format: req.format, verify: req.verify,
    pool, signal: run.signal, progress: run.progress,
  }));
}

export interface NewVmRestoreRequest {
  readonly repo: Repository;
  readonly backup: Manifest;
  readonly hypervisor: Hypervisor;
  readonly newName: string;
  /** Where the disks go; default the hypervisor's choice. */
  readonly poolDir?: string;
  readonly noNetwork: boolean;
  readonly start: boolean;
  readonly verify: boolean;
}

export function restoreAsVm(req: NewVmRestoreRequest, run: RestoreRun): Promise<RestoredVm> {
  return withWorkerPool(req.repo, run, (pool) => restoreAsNewVm(
    { repo: req.repo, verify: req.verify, pool, signal: run.signal, progress: run.progress },
    req.backup,
    { newName: req.newName, poolDir: req.poolDir, noNetwork: req.noNetwork, start: req.start, hypervisor: req.hypervisor },
  ));
}

export interface InPlaceRestorePlan {
  readonly plan: InPlacePlan;
  /** The question to confirm: what would be overwritten, with which backup. */
  readonly question: string;
}

/** What a restore over the original VM would overwrite; refused unless the VM is shut off. */
export async function planRestoreInPlace(backup: Manifest, hypervisor: Hypervisor): Promise<InPlaceRestorePlan> {
  const plan = await planInPlaceRestore(backup, hypervisor);
  return { plan, question: describeInPlacePlan(plan) };
}

export interface InPlaceRestoreRequest {
  readonly repo: Repository;
  readonly backup: Manifest;
  readonly hypervisor: Hypervisor;
  readonly plan: InPlacePlan;
  readonly verify: boolean;
}

/** Carries out a confirmed plan (the VM is checked again); returns the paths overwritten. */
export function executeRestoreInPlace(req: InPlaceRestoreRequest, run: RestoreRun): Promise<string[]> {
  return withWorkerPool(req.repo, run, (pool) => executeInPlaceRestore(
    { repo: req.repo, verify: req.verify, pool, signal: run.signal, progress: run.progress }, req.backup, req.plan, req.hypervisor,
  ));
}
