// The libvirt/QEMU adapter behind core's Hypervisor interface: one libvirt connection (URI)
// plus this host's scratch and state directories. Everything it does is the adapter's own
// functions (inventory, sessions, sweep, restore-define); this file only binds them to one
// connection and maps their results onto the platform-neutral types.

import { join } from 'node:path';
import type {
  ActiveRun, BackupSession, BackupSessionOptions, DefineVmRequest, DefinedVm, Hypervisor, InPlaceTarget, InstantRecoveryOps, SweepLeftoversOptions,
  StoragePool, SweptLeftover, VmInfo, VmStateFile,
} from '../../core/index.ts';
import { defaultStateDir } from '../../host/index.ts';
import { libvirtInstantOps } from './instant.ts';
import { getVm, listVms } from './inventory.ts';
import { checkRestoreInPlace, defineVmFromBackup, restoreStateInPlace } from './restore-define.ts';
import { readRunRecords } from './run-records.ts';
import { openBackupSession } from './session.ts';
import { tpmStateDir } from './state-files.ts';
import { listStoragePools } from './storage-pools.ts';
import { sweepStaleRuns } from './sweep.ts';
import { connectUri } from './virsh.ts';

/** Where `restore --as-vm` puts a new VM's disks unless told otherwise: NAME's own directory. */
export const DEFAULT_POOL_ROOT = '/var/lib/libvirt/images';

export interface LibvirtHypervisorOptions {
  /** libvirt URI; default VMBAK_CONNECT or qemu:///system. */
  readonly uri?: string;
  /** Where hot backups' run directories (NBD socket, scratch files) go; default VMBAK_SCRATCH_DIR or /var/lib/vmbak/scratch. */
  readonly scratchDir?: string;
  /** Where run records go; default VMBAK_STATE_DIR or /var/lib/vmbak/runs. */
  readonly stateDir?: string;
}

export class LibvirtHypervisor implements Hypervisor {
  readonly sourceKind = 'libvirt' as const;
  readonly changeTracking = true;
  readonly location: string;
  readonly instant: InstantRecoveryOps;
  private readonly opts: LibvirtHypervisorOptions;

  constructor(opts: LibvirtHypervisorOptions = {}) {
    this.opts = opts;
    this.location = connectUri(opts.uri);
    this.instant = libvirtInstantOps(opts.uri);
  }

  listVms(): Promise<VmInfo[]> {
    return listVms({ uri: this.opts.uri });
  }

  getVm(nameOrUuid: string): Promise<VmInfo> {
    return getVm(nameOrUuid, { uri: this.opts.uri });
  }

  openBackupSession(vm: Pick<VmInfo, 'uuid' | 'name'>, opts: BackupSessionOptions): Promise<BackupSession> {
    return openBackupSession(vm, { ...opts, uri: this.opts.uri, scratchDir: this.opts.scratchDir, stateDir: this.opts.stateDir });
  }

  async sweepLeftovers(opts: SweepLeftoversOptions): Promise<SweptLeftover[]> {
    const swept = await sweepStaleRuns({ stateDir: this.opts.stateDir, isCheckpointNeeded: opts.isCheckpointNeeded });
    return swept.map((s) => ({
      vmName: s.record.vmName, vmUuid: s.record.vmUuid, checkpoint: s.record.checkpoint,
      thawed: s.thawed, jobAborted: s.jobAborted, checkpointDeleted: s.checkpointDeleted, error: s.error,
    }));
  }

  async listActiveRuns(): Promise<ActiveRun[]> {
    return readRunRecords(this.opts.stateDir ?? defaultStateDir())
      .map((r) => ({ runId: r.runId, host: r.host, pid: r.pid, vmName: r.vmName, checkpoint: r.checkpoint }));
  }

  defaultRestoreDir(vmName: string): string {
    return join(DEFAULT_POOL_ROOT, vmName);
  }

  listStoragePools(): Promise<StoragePool[]> {
    return listStoragePools({ uri: this.opts.uri });
  }

  async defineVm(req: DefineVmRequest): Promise<DefinedVm> {
    const uuid = await defineVmFromBackup(req.definition, {
      newName: req.newName, diskPaths: req.diskPaths, noNetwork: req.noNetwork, nvramPath: req.nvramPath,
      stateFiles: req.stateFiles, start: req.start, uri: this.opts.uri, pauseOnIoError: req.pauseOnIoError,
    });
    const hasTpm = req.stateFiles.some((f) => f.name.startsWith('tpm/'));
    return { uuid, tpmStateDir: hasTpm ? tpmStateDir(uuid) : null };
  }

  prepareRestoreInPlace(vmRef: string): Promise<InPlaceTarget> {
    return checkRestoreInPlace(vmRef, { uri: this.opts.uri });
  }

  restoreStateInPlace(target: InPlaceTarget, stateFiles: readonly VmStateFile[]): Promise<string[]> {
    return restoreStateInPlace(target, stateFiles);
  }
}
