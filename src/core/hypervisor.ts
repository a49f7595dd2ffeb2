// The hypervisor interface: what the engine and the services need from a platform (libvirt/
// QEMU now, vSphere later) — an inventory of VMs, one consistent point in time of all of a
// VM's disks exposed as DiskSources (with changed-block maps when a checkpoint allows it),
// cleanup after runs that were killed, and putting a VM back. Nothing here names a platform:
// a libvirt checkpoint and a vSphere change id are both a "checkpoint"; a pull-mode backup
// job and a VM snapshot are both a "backup session" whose disks a DiskSource reads and whose
// mapDirty answers from the dirty bitmap or the changed-areas query.

import type { DiskSource, SourceFileFacts } from './disk-source.ts';

export type VmState = 'running' | 'paused' | 'shutoff' | 'other';
export type Consistency = 'application' | 'filesystem' | 'crash';

export interface VmDisk {
  /** The guest-visible name (libvirt target dev: vda, sdb). */
  readonly target: string;
  /** disk, cdrom, floppy, lun. */
  readonly device: string;
  /** Image path for file disks; null for disks that are not files. */
  readonly path: string | null;
  readonly format: string;
  readonly sizeBytes: number;
  /** Why the disk is not backed up (cdrom, shareable, excluded), or null. */
  readonly skipReason: string | null;
  /** Why the disk cannot be backed up (a kind of storage the adapter cannot read), or null. */
  readonly unsupportedReason: string | null;
  /** A hot backup reads only its changes after the first (qcow2 bitmaps, vSphere CBT). */
  readonly changedBlockTracking: boolean;
}

export interface VmInfo {
  readonly uuid: string;
  readonly name: string;
  readonly state: VmState;
  readonly host: string;
  readonly disks: readonly VmDisk[];
  readonly tags: readonly string[];
}

/** A non-disk file a VM needs to boot (UEFI NVRAM, TPM state), stored with the backup. */
export interface VmStateFile {
  readonly name: string;
  readonly data: Buffer;
}

export interface SessionDisk {
  readonly source: DiskSource;
  /**
   * The checkpoint whose dirty map `source.mapDirty` reports against, or null for a full
   * read; when null, fallbackReason says why an incremental was not possible.
   */
  readonly incrementalFrom: string | null;
  readonly fallbackReason: string | null;
  /** The format the disk is stored in at its source (qcow2, raw, …), for the manifest. */
  readonly format?: string;
  /** The image file the disk was read from, when it is a file. */
  readonly sourcePath?: string | null;
  /**
   * The image file's facts taken before the session read anything, when the disk is a
   * regular file read at rest (image files, shut-off VMs); null when they cannot vouch for
   * its content (a block device, a file modified within the last second).
   */
  readonly sourceFile?: SourceFileFacts | null;
}

/** One consistent point in time of a VM's disks, open for reading. */
export interface BackupSession {
  readonly consistency: Consistency;
  /** Checkpoint created with this point in time (the base of the next incremental), or null. */
  readonly checkpointId: string | null;
  readonly domainXml: string;
  readonly stateFiles: readonly VmStateFile[];
  readonly disks: readonly SessionDisk[];
  readonly skippedDisks: readonly { target: string; reason: string }[];
  readonly warnings: readonly string[];
  /** The backup was recorded: keep the new checkpoint, drop the ones no longer needed. */
  finish(): Promise<void>;
  /** Nothing was recorded: end the job, remove scratch files and the new checkpoint. */
  abort(): Promise<void>;
}

/** auto: freeze the guest's filesystems when its agent answers; require: fail without; off. */
export type QuiesceMode = 'auto' | 'require' | 'off';

export interface QuiesceHooks {
  /** Shell command run on the host before the freeze (VMBAK_HOOK, VMBAK_VM_NAME, VMBAK_VM_UUID set). */
  readonly preFreeze?: string;
  /** Run after the thaw — also after a failed pre-freeze or start, to undo what pre-freeze did. */
  readonly postThaw?: string;
  readonly timeoutMs?: number;
}

/** What every adapter understands when it opens a backup session. */
export interface BackupSessionOptions {
  /** The checkpoint the repository's latest backup of this VM ends with, or null: read in full. */
  readonly sinceCheckpoint: string | null;
  readonly excludeDisks?: readonly string[];
  readonly quiesce?: QuiesceMode;
  readonly hooks?: QuiesceHooks;
  /** The run's abort: ends a start in progress (a pre-freeze hook is killed). */
  readonly signal?: AbortSignal;
  /** Told, in one line, what the session does that an operator should know (waits, cleanups). */
  readonly onNotice?: (message: string) => void;
}

/**
 * Anything a VM's consistent point in time can be opened from: a hypervisor, or a VM's image
 * files at rest (powered-off VMs, templates), which have no inventory of their own.
 */
export interface VmBackupSource {
  /** What manifests record as the source of backups made from here. */
  readonly sourceKind: 'image' | 'domain-xml' | 'libvirt';
  /**
   * False when sessions never depend on sinceCheckpoint (image files: unchanged chunks are
   * found by hash), so a session may be opened before the repository's chain is known.
   */
  readonly changeTracking: boolean;
  openBackupSession(vm: Pick<VmInfo, 'uuid' | 'name'>, opts: BackupSessionOptions): Promise<BackupSession>;
}

/** A backup run of this host that holds hypervisor resources (a backup job, a snapshot) right now. */
export interface ActiveRun {
  readonly runId: string;
  readonly host: string;
  readonly pid: number;
  readonly vmName: string;
  readonly checkpoint: string | null;
}

/** What a sweep found of one killed run, and what it undid. */
export interface SweptLeftover {
  readonly vmName: string;
  readonly vmUuid: string;
  readonly checkpoint: string | null;
  /** The dead run may have left the guest frozen, and it was thawed. */
  readonly thawed: boolean;
  readonly jobAborted: boolean;
  readonly checkpointDeleted: boolean;
  /** Why the leftover is kept for the next sweep, or null when it is gone. */
  readonly error: string | null;
}

export interface SweepLeftoversOptions {
  /**
   * True when some repository's manifest has `checkpoint` as its base for this VM: such a
   * checkpoint is the next incremental's base and must stay.
   */
  readonly isCheckpointNeeded: (vmUuid: string, checkpoint: string) => boolean | Promise<boolean>;
}

export interface DefineVmRequest {
  /** The backed-up definition (libvirt domain XML). */
  readonly definition: string;
  readonly newName: string;
  /** Restored image per disk name; every backed-up disk must be listed. */
  readonly diskPaths: ReadonlyMap<string, string>;
  readonly noNetwork: boolean;
  /** Where the restored UEFI variable store goes; null: the platform's default or a fresh one. */
  readonly nvramPath: string | null;
  readonly stateFiles: readonly VmStateFile[];
  readonly start: boolean;
  /**
   * Disks pause the VM on a read or write error instead of passing it to the guest (instant
   * recovery: a lost backing export must stop the guest, never feed it errors).
   */
  readonly pauseOnIoError?: boolean;
}

export interface DefinedVm {
  readonly uuid: string;
  /** Where the restored TPM state went, or null when the backup held none. */
  readonly tpmStateDir: string | null;
}

/** What a restore over an existing (shut-off) VM overwrites. */
export interface InPlaceTarget {
  readonly uuid: string;
  readonly name: string;
  /** Disk name → image path. */
  readonly disks: ReadonlyMap<string, string>;
  readonly formats: ReadonlyMap<string, 'raw' | 'qcow2'>;
  readonly nvramPath: string;
  readonly tpmStateDir: string;
}

/** A VM's run state as instant recovery needs it: paused on an I/O error is not paused by hand. */
export interface VmRunState {
  readonly state: VmState;
  /** The platform's reason (libvirt: 'I/O error', 'user', 'booted', …). */
  readonly reason: string;
}

/**
 * What instant recovery needs from a platform: disks that are local copy-on-write overlays
 * over NBD exports (reads come from the export until copied, writes stay local), and moving
 * such a VM onto its overlays alone while it runs.
 */
export interface InstantRecoveryOps {
  /** A new overlay image at `path` whose backing store is export `exportName` on the NBD unix socket. */
  createOverlay(path: string, socketPath: string, exportName: string, sizeBytes: number): Promise<void>;
  /** Lets the hypervisor's processes (and only them) connect to an export's unix socket. */
  grantSocketAccess(socketPath: string): Promise<void>;
  /** null when no such VM is defined. */
  vmRunState(vmName: string): Promise<VmRunState | null>;
  pauseVm(vmName: string): Promise<void>;
  /** Resumes a paused VM, retrying while requests the resume replays still fail (the export coming back). */
  resumeVm(vmName: string, timeoutMs: number): Promise<void>;
  /** Copies each disk's backing data into its overlay while the VM runs; afterwards no disk has a backing store. */
  pullIntoOverlays(vmName: string, disks: readonly string[], onProgress: (disk: string, fraction: number) => void): Promise<void>;
  /** Whether the VM's running or stored definition still reads from the NBD socket. */
  referencesSocket(vmName: string, socketPath: string): Promise<boolean>;
  /** Stops and undefines the VM (with its NVRAM); nothing when it does not exist. */
  removeVm(vmName: string): Promise<void>;
}

/** A place on the host for VM disks (libvirt: a storage pool). */
export interface StoragePool {
  readonly name: string;
  readonly type: string;
  /** The directory its volumes live in; null for pools that are not files in a directory (LVM, iSCSI, RBD). */
  readonly path: string | null;
  readonly active: boolean;
  readonly capacityBytes: number | null;
  readonly availableBytes: number | null;
}

export interface Hypervisor extends VmBackupSource {
  readonly instant: InstantRecoveryOps;
  /** Where it connects, for messages (qemu:///system, vcenter.example.com). */
  readonly location: string;
  /** Every VM with state, disks and tags; a listing error is an error, never an empty list. */
  listVms(): Promise<VmInfo[]>;
  /** One VM by name or UUID; VM_NOT_FOUND when there is none. */
  getVm(nameOrUuid: string): Promise<VmInfo>;
  /** Undoes what killed runs left: backup jobs or snapshots, scratch files, checkpoints no backup needs, frozen guests. */
  sweepLeftovers(opts: SweepLeftoversOptions): Promise<SweptLeftover[]>;
  /** This host's runs that hold hypervisor resources now (for job listings). */
  listActiveRuns(): Promise<ActiveRun[]>;
  /** Where a restored VM's disks go when the caller names no place. */
  defaultRestoreDir(vmName: string): string;
  /** The host's storage pools, for choosing where restored disks go. */
  listStoragePools(): Promise<StoragePool[]>;
  /** Defines (and optionally starts) a new VM from a backed-up definition and restored disks; undone on failure. */
  defineVm(req: DefineVmRequest): Promise<DefinedVm>;
  /** Checks the VM can be restored over (it is shut off) and says what that overwrites. */
  prepareRestoreInPlace(vmRef: string): Promise<InPlaceTarget>;
  /** Puts backed-up boot state (NVRAM, TPM) over a shut-off VM's own; returns the paths written. */
  restoreStateInPlace(target: InPlaceTarget, stateFiles: readonly VmStateFile[]): Promise<string[]>;
}
