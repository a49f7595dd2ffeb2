// The fleet's VMs: OS-less domains (TCG, `type='qemu'`) started paused, each with one small
// qcow2 disk filled with random data (qcow2, so checkpoints track changes and later backups
// are incremental). A "migrated" VM is the same UUID and disk defined on another host.

import { execFile } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { SimulatedHost } from './hosts.ts';

const run = promisify(execFile);
const QEMU_UID = 64055;
const KVM_GID = 108;

export interface FleetVm {
  readonly name: string;
  readonly uuid: string;
  readonly diskPath: string;
  host: string;
}

export function fleetDomainXml(name: string, uuid: string, diskPath: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${diskPath}'/>
      <target dev='vda' bus='virtio'/>
      <alias name='ua-vda'/>
    </disk>
  </devices>
</domain>
`;
}

/** A disk of SIZE bytes, the first FILLED of them random, as qcow2. */
async function makeDisk(dir: string, sizeBytes: number, filledBytes: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const raw = join(dir, 'fill.raw');
  const fd = openSync(raw, 'w');
  for (let off = 0; off < filledBytes; off += 4 << 20) writeSync(fd, randomBytes(Math.min(4 << 20, filledBytes - off)), 0, undefined, off);
  closeSync(fd);
  const path = join(dir, 'vda.qcow2');
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path]);
  await run('qemu-img', ['resize', '-q', '-f', 'qcow2', path, String(sizeBytes)]);
  rmSync(raw);
  chownSync(dir, QEMU_UID, KVM_GID);
  chownSync(path, QEMU_UID, KVM_GID);
  return path;
}

/** Defines VM NAME on HOST over DISK (with UUID) and starts it paused. */
export async function defineOn(host: SimulatedHost, name: string, uuid: string, diskPath: string): Promise<void> {
  const xml = join(host.dir, `${name}.xml`);
  writeFileSync(xml, fleetDomainXml(name, uuid, diskPath));
  await host.virsh('define', xml);
  await host.virsh('start', name, '--paused');
}

export async function createFleetVm(host: SimulatedHost, name: string, sizeBytes: number, filledBytes: number): Promise<FleetVm> {
  const diskPath = await makeDisk(join(host.imagesDir, name), sizeBytes, filledBytes);
  const uuid = randomUUID();
  await defineOn(host, name, uuid, diskPath);
  return { name, uuid, diskPath, host: host.name };
}

/** Moves VM from one host to another as a migration would: off the old host, same UUID and disk on the new one. */
export async function migrateVm(vm: FleetVm, from: SimulatedHost, to: SimulatedHost): Promise<void> {
  await from.virsh('destroy', vm.name);
  // The old host keeps no definition; its checkpoints' metadata goes with it (the bitmaps stay in the qcow2).
  await from.virsh('undefine', vm.name, '--checkpoints-metadata');
  await defineOn(to, vm.name, vm.uuid, vm.diskPath);
  vm.host = to.name;
}
