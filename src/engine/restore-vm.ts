// Restoring a whole VM through the Hypervisor interface: as a new VM (disks as qcow2 in a
// pool dir, the backed-up definition with a new name, UUID and MACs, UEFI NVRAM and TPM state
// put back) or in place over the original VM's disks and boot state. In place never writes into a live image: each disk is
// restored beside it and renamed over it only when complete, and the VM must be shut off —
// checked when the plan is made and again right before anything is overwritten.

import { chown, mkdtemp, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { VmbakError, isVmbakError, renameDurably } from '../core/index.ts';
import type { Hypervisor, VmStateFile } from '../core/index.ts';
import type { Manifest } from '../repository/index.ts';
import { restoreBackup, type RestoreRequest } from './restore-backup.ts';

/** What every disk restore of a VM restore shares: repository, workers, cancellation, counters. */
export type VmRestoreBase = Omit<RestoreRequest, 'toDir' | 'disk' | 'format' | 'manifest'>;

export interface AsVmOptions {
  readonly newName: string;
  /** Where the disks and the NVRAM go; default the hypervisor's choice (libvirt: /var/lib/libvirt/images/NAME). */
  readonly poolDir?: string;
  readonly noNetwork: boolean;
  readonly start: boolean;
  readonly hypervisor: Hypervisor;
}

export interface RestoredVm {
  readonly uuid: string;
  readonly poolDir: string;
  readonly disks: readonly string[];
  readonly nvramPath: string | null;
  readonly tpmStateDir: string | null;
}

export async function restoreAsNewVm(base: VmRestoreBase, manifest: Manifest, opts: AsVmOptions): Promise<RestoredVm> {
  if (!manifest.domainXml) throw new VmbakError('USAGE', { detail: `backup ${manifest.backupId} holds no domain XML; restore its disks with --to DIR instead` });
  if (!/^[^/\s][^/]*$/.test(opts.newName)) throw new VmbakError('USAGE', { detail: `--as-vm ${JSON.stringify(opts.newName)}: a VM name must not be empty, start with a space or contain '/'` });
  await refuseExistingVm(opts.hypervisor, opts.newName);
  const poolDir = opts.poolDir ?? opts.hypervisor.defaultRestoreDir(opts.newName);
  const stateFiles = decodeStateFiles(manifest);
  const nvramPath = stateFiles.some((f) => f.name.startsWith('nvram/')) ? join(poolDir, `${opts.newName}_VARS.fd`) : null;
  // Refused before any byte is restored, and so never removed by the cleanup below.
  for (const path of [...manifest.disks.map((d) => join(poolDir, `${d.name}.qcow2`)), ...(nvramPath ? [nvramPath] : [])]) {
    if (await exists(path)) throw new VmbakError('OUTPUT_EXISTS', { path });
  }
  const poolDirExisted = await exists(poolDir);
  const restored: string[] = [];
  try {
    for (const d of manifest.disks) {
      const [disk] = await restoreBackup({ ...base, manifest, toDir: poolDir, disk: d.name, format: 'qcow2' });
      restored.push(disk!.path);
    }
    const defined = await opts.hypervisor.defineVm({
      definition: manifest.domainXml, newName: opts.newName, diskPaths: new Map(manifest.disks.map((d, i) => [d.name, restored[i]!])),
      noNetwork: opts.noNetwork, nvramPath, stateFiles, start: opts.start,
    });
    return { uuid: defined.uuid, poolDir, disks: restored, nvramPath, tpmStateDir: defined.tpmStateDir };
  } catch (err) {
    // Nothing half-made stays behind: the images belong to a VM that does not exist.
    for (const path of restored) await rm(path, { force: true });
    if (!poolDirExisted) await rmdir(poolDir).catch(() => undefined);
    throw err;
  }
}

export interface InPlacePlan {
  readonly backupId: string;
  readonly vmName: string;
  readonly vmRef: string;
  readonly disks: readonly { readonly name: string; readonly path: string; readonly format: 'raw' | 'qcow2' }[];
  /** Boot state the backup holds and the restore puts back. */
  readonly nvramPath: string | null;
  readonly tpmStateDir: string | null;
}

/** Finds the VM the backup came from and what of it a restore would overwrite. */
export async function planInPlaceRestore(manifest: Manifest, hypervisor: Hypervisor): Promise<InPlacePlan> {
  const vmRef = manifest.vm.uuid ?? manifest.vm.name;
  const target = await hypervisor.prepareRestoreInPlace(vmRef);
  for (const d of manifest.disks) {
    if (!target.disks.has(d.name)) throw new VmbakError('DISK_NOT_IN_BACKUP', { backupId: manifest.backupId, disk: d.name, disks: [...target.disks.keys()].join(', ') || 'none' });
  }
  const names = manifest.stateFiles.map((f) => f.name);
  return {
    backupId: manifest.backupId,
    vmName: target.name,
    vmRef: target.uuid,
    disks: manifest.disks.map((d) => ({ name: d.name, path: target.disks.get(d.name)!, format: target.formats.get(d.name)! })),
    nvramPath: names.some((n) => n.startsWith('nvram/')) ? target.nvramPath : null,
    tpmStateDir: names.some((n) => n.startsWith('tpm/')) ? target.tpmStateDir : null,
  };
}

/** The question a person confirms before a restore in place. */
export function describeInPlacePlan(plan: InPlacePlan): string {
  const state = [plan.nvramPath && `UEFI NVRAM ${plan.nvramPath}`, plan.tpmStateDir && `TPM state ${plan.tpmStateDir}`].filter(Boolean);
  return `overwrite the disks of VM ${plan.vmName} (${plan.disks.map((d) => d.path).join(', ')})${state.length ? ` and its ${state.join(' and ')}` : ''} with backup ${plan.backupId}`;
}

/** Returns the paths overwritten: disk images, then the NVRAM file and the TPM state directory. */
export async function executeInPlaceRestore(base: VmRestoreBase, manifest: Manifest, plan: InPlacePlan, hypervisor: Hypervisor): Promise<string[]> {
  // Time may have passed at the confirmation prompt: the VM must still be off and the same.
  const target = await hypervisor.prepareRestoreInPlace(plan.vmRef);
  const written: string[] = [];
  for (const d of plan.disks) {
    if (target.disks.get(d.name) !== d.path) throw new VmbakError('USAGE', { detail: `VM ${plan.vmName} changed while waiting for confirmation (disk ${d.name}); run the restore again` });
    await restoreDiskOver(base, manifest, d);
    written.push(d.path);
  }
  written.push(...await hypervisor.restoreStateInPlace(target, decodeStateFiles(manifest)));
  return written;
}

async function restoreDiskOver(base: VmRestoreBase, manifest: Manifest, d: InPlacePlan['disks'][number]): Promise<void> {
  const old = await stat(d.path);
  // Same filesystem as the image, so the final rename is atomic.
  const tmpDir = await mkdtemp(join(dirname(d.path), `.vmbak-restore-${basename(d.path)}-`));
  try {
    const [restored] = await restoreBackup({ ...base, manifest, toDir: tmpDir, disk: d.name, format: d.format });
    await chown(restored!.path, old.uid, old.gid);
    // The restored image is on disk already; the rename over the VM's disk is made so too.
    await renameDurably(restored!.path, d.path);
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

async function refuseExistingVm(hypervisor: Hypervisor, name: string): Promise<void> {
  const found = await hypervisor.getVm(name).then(() => true, (err: unknown) => {
    if (isVmbakError(err, 'VM_NOT_FOUND')) return false;
    throw err;
  });
  if (found) throw new VmbakError('VM_EXISTS', { vm: name, uri: hypervisor.location });
}

function decodeStateFiles(manifest: Manifest): VmStateFile[] {
  return manifest.stateFiles.map((f) => ({ name: f.name, data: Buffer.from(f.dataBase64, 'base64') }));
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
