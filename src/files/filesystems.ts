// Stable ids for the filesystems libguestfs finds on a backup's disks. An id names where the
// filesystem lives, from the disk outward — `vda` (whole disk), `vda/p1` (partition 1),
// `vda/lvm/vg0/root` (a logical volume whose volume group starts on vda) — so it survives
// appliance device naming (sda, sdb follow the order drives were added) and never holds ':'
// (a path is `ID:/path`).

import { VmbakError } from '../core/index.ts';
import type { Guestfish } from './guestfish.ts';

export interface Filesystem {
  readonly id: string;
  /** As libguestfs reports it: ext4, xfs, ntfs, vfat, swap, crypto_LUKS, unknown… */
  readonly type: string;
  /** The appliance's device, e.g. /dev/sda1. */
  readonly device: string;
}

/** Types the appliance cannot mount, with what to tell the user. */
const UNBROWSABLE: Record<string, string> = {
  swap: 'it is swap space',
  crypto_LUKS: 'it is LUKS-encrypted',
  unknown: 'no filesystem libguestfs knows was found on it',
};

export function whyUnbrowsable(type: string): string | null {
  return UNBROWSABLE[type] ?? null;
}

/** Every filesystem on the session's disks; `disks[i]` is the disk behind the i-th added drive. */
export async function findFilesystems(g: Guestfish, disks: readonly string[]): Promise<Filesystem[]> {
  const devices = await g.must('list-devices');
  const diskOf = new Map(devices.map((dev, i) => [dev, disks[i] ?? dev.replace('/dev/', '')]));
  const lvDisk = await volumeGroupDisks(g, diskOf);
  const found: Filesystem[] = [];
  for (const line of await g.must('list-filesystems')) {
    const m = /^(.*): (\S+)$/.exec(line);
    if (!m || m[1]!.startsWith('btrfsvol:')) continue; // btrfs subvolumes: not yet
    const device = m[1]!;
    found.push({ id: filesystemId(device, diskOf, lvDisk), type: m[2]!, device });
  }
  return found;
}

export function filesystemId(device: string, diskOf: Map<string, string>, lvDisk: Map<string, string>): string {
  const part = /^(\/dev\/[a-z]+)(\d+)$/.exec(device);
  if (part && diskOf.has(part[1]!)) return `${diskOf.get(part[1]!)}/p${part[2]}`;
  if (diskOf.has(device)) return diskOf.get(device)!;
  const lv = /^\/dev\/([^/]+)\/([^/]+)$/.exec(device);
  if (lv) return `${lvDisk.get(lv[1]!) ?? 'lvm'}${lvDisk.has(lv[1]!) ? '/lvm' : ''}/${lv[1]}/${lv[2]}`.replaceAll(':', '_');
  return device.replace(/^\/dev\//, '').replaceAll(':', '_');
}

/** Volume group → the disk of its first physical volume. */
async function volumeGroupDisks(g: Guestfish, diskOf: Map<string, string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const vgs = await g.run('vgs');
  if (vgs.error !== null || vgs.lines.length === 0) return out;
  const pvs = await g.must('pvs');
  const uuids = await g.batch(pvs.map((pv) => `pvuuid ${pv}`));
  const pvByUuid = new Map(pvs.map((pv, i) => [uuids[i]!.lines[0] ?? '', pv]));
  for (const vg of vgs.lines) {
    const members = await g.must(`vgpvuuids ${vg}`);
    const pv = members.map((u) => pvByUuid.get(u)).find((p) => p !== undefined);
    const disk = pv ? diskOf.get(pv.replace(/\d+$/, '')) : undefined;
    if (disk) out.set(vg, disk);
  }
  return out;
}

/** Splits `ID:/path` at the first ':' (ids never hold one). */
export function parseFilePath(spec: string): { fs: string; path: string } {
  const at = spec.indexOf(':');
  const path = at > 0 ? spec.slice(at + 1) : '';
  if (at <= 0 || !path.startsWith('/')) {
    throw new VmbakError('USAGE', { detail: `${spec}: give FILESYSTEM:/path, e.g. vda/p1:/etc/hostname (see vmbak files ls BACKUP)` });
  }
  return { fs: spec.slice(0, at), path };
}
