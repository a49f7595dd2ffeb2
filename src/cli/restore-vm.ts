// Restoring a whole VM: as a new libvirt VM (disks as qcow2 in a pool dir, the backed-up XML
// with a new name, UUID and MACs, NVRAM put back) or in place over the original VM's disks.
// In place never writes into a live image: each disk is restored beside it and renamed over
// it only when complete, and the VM must be shut off.

import { chown, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { VmbakError, isVmbakError } from '../core/index.ts';
import { restoreBackup, type RestoreRequest } from '../engine/index.ts';
import { libvirt } from '../hypervisors/index.ts';
import type { Manifest } from '../repository/index.ts';

type RestoreBase = Omit<RestoreRequest, 'toDir' | 'disk' | 'format' | 'manifest'>;

export interface AsVmOptions {
  readonly newName: string;
  readonly poolDir?: string;
  readonly noNetwork: boolean;
  readonly start: boolean;
  readonly uri?: string;
}

export async function restoreAsNewVm(base: RestoreBase, manifest: Manifest, opts: AsVmOptions): Promise<{ uuid: string; poolDir: string; disks: string[] }> {
  if (!manifest.domainXml) throw new VmbakError('USAGE', { detail: `backup ${manifest.backupId} holds no domain XML; restore its disks with --to DIR instead` });
  const exists = await libvirt.getVm(opts.newName, { uri: opts.uri }).then(() => true, (err: unknown) => {
    if (isVmbakError(err, 'VM_NOT_FOUND')) return false;
    throw err;
  });
  if (exists) throw new VmbakError('VM_EXISTS', { vm: opts.newName, uri: libvirt.connectUri(opts.uri) });
  const poolDir = opts.poolDir ?? join('/var/lib/libvirt/images', opts.newName);
  const restored = await restoreBackup({ ...base, manifest, toDir: poolDir, disk: null, format: 'qcow2' });
  const nvram = manifest.stateFiles.find((f) => f.name.startsWith('nvram/'));
  let nvramPath: string | null = null;
  if (nvram) {
    nvramPath = join(poolDir, `${opts.newName}_VARS.fd`);
    await writeFile(nvramPath, Buffer.from(nvram.dataBase64, 'base64'), { flag: 'wx' });
  }
  try {
    const uuid = await libvirt.defineVmFromBackup(manifest.domainXml, {
      newName: opts.newName, diskPaths: new Map(restored.map((d) => [d.name, d.path])), noNetwork: opts.noNetwork,
      nvramPath, start: opts.start, uri: opts.uri,
    });
    return { uuid, poolDir, disks: restored.map((d) => d.path) };
  } catch (err) {
    // Nothing half-made stays behind: the images belong to a VM that does not exist.
    for (const d of restored) await rm(d.path, { force: true });
    if (nvramPath) await rm(nvramPath, { force: true });
    throw err;
  }
}

/** Asks on a terminal; without one, refuses unless --yes was given. */
export async function confirmOrRefuse(what: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) throw new VmbakError('CONFIRMATION_NEEDED', { what });
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new VmbakError('USAGE', { detail: `${what}: not confirmed` });
  } finally {
    rl.close();
  }
}

export async function restoreInPlace(base: RestoreBase, manifest: Manifest, opts: { yes: boolean; uri?: string }): Promise<string[]> {
  const vmRef = manifest.vm.uuid ?? manifest.vm.name;
  const target = await libvirt.checkRestoreInPlace(vmRef, { uri: opts.uri });
  const vm = await libvirt.getVm(target.uuid, { uri: opts.uri });
  for (const d of manifest.disks) {
    if (!target.disks.has(d.name)) throw new VmbakError('DISK_NOT_IN_BACKUP', { backupId: manifest.backupId, disk: d.name, disks: [...target.disks.keys()].join(', ') || 'none' });
  }
  await confirmOrRefuse(`overwrite the disks of VM ${vm.name} (${manifest.disks.map((d) => target.disks.get(d.name)).join(', ')}) with backup ${manifest.backupId}`, opts.yes);
  const written: string[] = [];
  for (const d of manifest.disks) {
    const path = target.disks.get(d.name)!;
    const format = vm.disks.find((x) => x.target === d.name)!.format === 'qcow2' ? 'qcow2' : 'raw';
    const old = await stat(path);
    // Same filesystem as the image, so the final rename is atomic.
    const tmpDir = await mkdtemp(join(dirname(path), `.vmbak-restore-${basename(path)}-`));
    try {
      const [restored] = await restoreBackup({ ...base, manifest, toDir: tmpDir, disk: d.name, format });
      await chown(restored!.path, old.uid, old.gid);
      await rename(restored!.path, path);
      written.push(path);
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  }
  const nvram = manifest.stateFiles.find((f) => f.name.startsWith('nvram/'));
  if (nvram && vm.domain.nvramPath) {
    await mkdir(dirname(vm.domain.nvramPath), { recursive: true });
    await writeFile(`${vm.domain.nvramPath}.vmbak-tmp`, Buffer.from(nvram.dataBase64, 'base64'));
    await rename(`${vm.domain.nvramPath}.vmbak-tmp`, vm.domain.nvramPath);
    written.push(vm.domain.nvramPath);
  }
  return written;
}
