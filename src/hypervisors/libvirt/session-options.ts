// Options of a libvirt backup session and the plan that decides, per disk, whether it is read
// incrementally or in full (and why) — kept apart from the code that runs libvirt so the
// decisions are testable and printable.

import { VmbakError } from '../../core/index.ts';
import type { BackupSessionOptions, DiskSource, SourceFileFacts } from '../../core/index.ts';
import type { CheckpointInfo } from './checkpoints.ts';
import { incrementalRefusal } from './checkpoints.ts';
import type { LibvirtVm } from './inventory.ts';

/** Opens one export of a running backup job's NBD server as a DiskSource. */
export type ExportOpener = (socketPath: string, target: string, dirtyContext: string | null) => Promise<DiskSource>;
/** Opens an image file (powered-off VM) as a DiskSource. */
/** Opens a shut-off VM's image file; sourceFile, when given, are its facts taken before any read. */
export type ImageOpener = (path: string, target: string) => Promise<DiskSource & { readonly sourceFile?: SourceFileFacts | null }>;

/** core's BackupSessionOptions plus what only libvirt sessions have: connection, scratch, state. */
export interface SessionOptions extends BackupSessionOptions {
  readonly uri?: string;
  /** Where run directories (NBD socket + scratch files) go; default VMBAK_SCRATCH_DIR or /var/lib/vmbak/scratch. */
  readonly scratchDir?: string;
  /** Where run records go; default VMBAK_STATE_DIR or /var/lib/vmbak/runs. */
  readonly stateDir?: string;
  /** Free space kept in the scratch filesystem; the backup is aborted below it. */
  readonly scratchReserveBytes?: number;
  readonly scratchPollMs?: number;
  /** Called once when the scratch space runs low and the backup job was aborted. */
  readonly onScratchLow?: (err: VmbakError) => void;
  readonly openExport?: ExportOpener;
  readonly openImage?: ImageOpener;
}

export interface DiskPlan {
  readonly target: string;
  readonly path: string;
  readonly format: string;
  readonly sizeBytes: number;
  /** Gets a dirty bitmap in the new checkpoint (qcow2 only on libvirt 9). */
  readonly trackChanges: boolean;
  /** Read only changes since opts.sinceCheckpoint. */
  readonly incremental: boolean;
  readonly fallbackReason: string | null;
}

export interface SessionPlan {
  readonly disks: readonly DiskPlan[];
  readonly skipped: readonly { target: string; reason: string }[];
}

export function planDisks(vm: LibvirtVm, opts: SessionOptions, base: CheckpointInfo | null): SessionPlan {
  const exclude = new Set(opts.excludeDisks ?? []);
  for (const t of exclude) {
    if (!vm.disks.some((d) => d.target === t)) {
      throw new VmbakError('USAGE', { detail: `VM ${vm.name} has no disk ${t} to exclude (it has: ${vm.disks.map((d) => d.target).join(', ')})` });
    }
  }
  const skipped: { target: string; reason: string }[] = [];
  const disks: DiskPlan[] = [];
  for (const d of vm.domain.disks) {
    const info = vm.disks.find((x) => x.target === d.target)!;
    if (exclude.has(d.target)) { skipped.push({ target: d.target, reason: 'excluded by --exclude-disk' }); continue; }
    if (d.skipReason) { skipped.push({ target: d.target, reason: d.skipReason }); continue; }
    if (d.unsupportedReason || !d.path) {
      throw new VmbakError('DISK_UNSUPPORTED', { disk: d.target, vm: vm.name, detail: d.unsupportedReason ?? 'no source path' });
    }
    const running = vm.state === 'running' || vm.state === 'paused';
    // A shut-off VM's qcow2 images keep their persistent dirty bitmaps: the cold session reads
    // the one of the checkpoint (and confirms it is consistent) instead of a libvirt backup job.
    const trackChanges = d.format === 'qcow2';
    let fallbackReason: string | null = null;
    if (!trackChanges) fallbackReason = running ? `${d.format} disk: no changed-block tracking` : 'VM is shut off';
    else if (opts.sinceCheckpoint === null) fallbackReason = 'no checkpoint from a previous backup';
    else fallbackReason = incrementalRefusal(base, opts.sinceCheckpoint, d.target, { path: d.path, sizeBytes: info.sizeBytes });
    disks.push({
      target: d.target, path: d.path, format: d.format, sizeBytes: info.sizeBytes,
      trackChanges, incremental: fallbackReason === null, fallbackReason,
    });
  }
  return { disks, skipped };
}
