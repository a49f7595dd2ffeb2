// The hypervisor interface: what the engine needs from a platform (libvirt/QEMU now, vSphere
// later) to back up a VM — inventory, then one consistent point in time of all its disks
// exposed as DiskSources, with changed-block maps when a checkpoint allows it — and to put
// a VM back.

import type { DiskSource } from './disk-source.ts';

export type VmState = 'running' | 'paused' | 'shutoff' | 'other';
export type Consistency = 'application' | 'filesystem' | 'crash';

export interface VmDisk {
  /** The guest-visible name (libvirt target dev: vda, sdb). */
  readonly target: string;
  /** Image path for file disks; null for disks that are not files. */
  readonly path: string | null;
  readonly format: string;
  readonly sizeBytes: number;
  /** Why the disk is not backed up (cdrom, shareable, excluded), or null. */
  readonly skipReason: string | null;
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
