// Backing up VMs — the operation `vmbak backup`, a policy run of the scheduler and the API's
// "back up now" share: resolve what to back up (a selection of the hypervisor's VMs, after
// sweeping what killed runs left; or one VM's image files), run every VM through the engine
// into its repositories with failover and copies, and judge the outcome (backup-verdict.ts).
// Nothing here prints: progress goes to the caller's ProgressCounters, each VM's outcome and
// every notice through callbacks, and the verdict comes back as a value.

import { VmbakError, type Hypervisor, type QuiesceHooks, type QuiesceMode } from '../core/index.ts';
import { runBackups, type PauseGate, type ProgressCounters, type RepoHandle, type VmIdentity, type VmJob, type VmOutcome } from '../engine/index.ts';
import type { Repository } from '../repository/index.ts';
import { judgeBackupRun, type BackupVerdict } from './backup-verdict.ts';
import { domainXmlVm, imageFilesVm, type OfflineVm } from './hypervisors.ts';
import { describeLeftover, sweepLeftovers } from './leftovers.ts';
import { findVms } from './vm-selection.ts';

/** What to back up. */
export type BackupSelection =
  /** The hypervisor's VMs some pattern matches (names, UUIDs, globs, tag:NAME); hot when running. */
  | { readonly kind: 'hypervisor'; readonly hypervisor: Hypervisor; readonly vms: readonly string[] }
  /** One VM's image files, named vmName (default: the first file's name). */
  | { readonly kind: 'images'; readonly images: readonly string[]; readonly vmName?: string }
  /** A powered-off VM or template by its domain XML file, plus extra image files. */
  | { readonly kind: 'domain-xml'; readonly domainXmlPath: string; readonly images?: readonly string[]; readonly vmName?: string };

export interface BackupRequest {
  readonly selection: BackupSelection;
  /** Repositories in failover order (or spread over, see spread). */
  readonly targets: readonly RepoHandle[];
  /** Repositories that get the same backup from the same reads; a missing copy is a warning. */
  readonly copyTargets?: readonly RepoHandle[];
  /** Each VM keeps a stable primary among the targets instead of all trying them in order. */
  readonly spread?: boolean;
  /** VMs backed up at once. */
  readonly parallelStreams: number;
  readonly excludeDisks?: readonly string[];
  readonly quiesce?: QuiesceMode;
  /** Host commands around the guest freeze; given, a backup that is not application-consistent is a warning. */
  readonly hooks?: QuiesceHooks;
  /** Read image files even when their size, mtime, ctime and inode say they are unchanged. */
  readonly forceRead?: boolean;
  /** Backups never to build an incremental on (their verify failed): a VM whose latest is one is read whole. */
  readonly distrustedBases?: ReadonlySet<string>;
}

export interface BackupRunControl {
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
  /** Pauses reading (and the start of further VMs) while paused. */
  readonly gate?: PauseGate;
  /** The VMs the selection means, once known and before the first is read. */
  readonly onStart?: (vms: readonly VmIdentity[]) => void;
  /** Each VM's outcome as soon as it is known. */
  readonly onOutcome?: (outcome: VmOutcome) => void;
  /** One-line notices: cleanups after dead runs, what an aborted backup still waits for. */
  readonly onNotice?: (message: string) => void;
}

export interface BackupResult {
  readonly outcomes: readonly VmOutcome[];
  readonly verdict: BackupVerdict;
}

export async function backupVms(req: BackupRequest, control: BackupRunControl): Promise<BackupResult> {
  checkRequest(req);
  const jobs = await jobsFor(req, control);
  control.onStart?.(jobs.map((j) => j.vm));
  const outcomes = await runBackups(jobs, {
    targets: req.targets, spread: req.spread === true, parallelStreams: req.parallelStreams, signal: control.signal,
    progress: control.progress, gate: control.gate, copyTargets: req.copyTargets ?? [], onOutcome: control.onOutcome,
    forceRead: req.forceRead === true, distrustedBases: req.distrustedBases,
  });
  return { outcomes, verdict: judgeBackupRun(outcomes, req.hooks) };
}

/** A repository location opened on first use and shared after; a failed open is retried by the next use. */
export function lazyRepoHandle(location: string, open: () => Promise<Repository>): RepoHandle {
  let pending: Promise<Repository> | null = null;
  return {
    location,
    open: () => {
      pending ??= open().catch((err: unknown) => { pending = null; throw err; });
      return pending;
    },
  };
}

function checkRequest(req: BackupRequest): void {
  if (!Number.isInteger(req.parallelStreams) || req.parallelStreams < 1) {
    throw new VmbakError('USAGE', { detail: `parallel streams ${req.parallelStreams}: give a whole number from 1` });
  }
  if (req.targets.length === 0) throw new VmbakError('USAGE', { detail: 'a backup needs a repository' });
  if (req.spread && req.targets.length < 2) throw new VmbakError('USAGE', { detail: 'spreading needs two or more repositories' });
  const same = (req.copyTargets ?? []).find((c) => req.targets.some((t) => t.location === c.location));
  if (same) throw new VmbakError('USAGE', { detail: `${same.location} is both a repository and a copy target` });
  if (req.selection.kind === 'hypervisor' && req.selection.vms.length === 0) throw new VmbakError('USAGE', { detail: 'no VM selected' });
}

async function jobsFor(req: BackupRequest, control: BackupRunControl): Promise<VmJob[]> {
  const sel = req.selection;
  if (sel.kind === 'images') return [jobOf(imageFilesVm(sel.images, sel.vmName), req, control)];
  if (sel.kind === 'domain-xml') return [jobOf(await domainXmlVm(sel.domainXmlPath, sel.images, sel.vmName), req, control)];
  for (const s of await sweepLeftovers(sel.hypervisor, req.targets)) control.onNotice?.(describeLeftover(s));
  const vms = await findVms(sel.hypervisor, sel.vms);
  return vms.map((vm) => jobOf({ vm: { key: vm.uuid, name: vm.name, uuid: vm.uuid }, source: sel.hypervisor }, req, control));
}

function jobOf(offline: OfflineVm, req: BackupRequest, control: BackupRunControl): VmJob {
  const { vm, source } = offline;
  return {
    vm,
    source: source.sourceKind,
    chainFree: !source.changeTracking,
    openSession: (sinceCheckpoint) => source.openBackupSession({ uuid: vm.uuid ?? vm.key, name: vm.name }, {
      sinceCheckpoint, excludeDisks: req.excludeDisks, quiesce: req.quiesce, hooks: req.hooks, signal: control.signal, onNotice: control.onNotice,
    }),
  };
}
