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

/** The "filesystem id" of a bare `/path`: the guest OS's root with its fstab mounts. No real
 *  id is `/` (ids start with a disk name). */
export const GUEST_ROOT = '/';

/** Types the appliance cannot mount, with what to tell the user. */
const UNBROWSABLE: Record<string, string> = {
  swap: 'it is swap space',
  crypto_LUKS: 'it is LUKS-encrypted',
  BitLocker: 'it is BitLocker-encrypted',
  unknown: 'no filesystem libguestfs knows was found on it',
};

/** How a path is written back to the user: `ID:/path`, or the bare `/path` they gave. */
export function formatFilePath(fs: string, path: string): string {
  return fs === GUEST_ROOT ? path : `${fs}:${path}`;
}

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
  for (const e of await encryptedPartitions(g, new Set(found.map((f) => f.device)))) {
    found.push({ id: filesystemId(e.device, diskOf, lvDisk), type: e.type, device: e.device });
  }
  return found.sort((a, b) => a.device.localeCompare(b.device, 'en', { numeric: true }));
}

/** libguestfs 1.48's list-filesystems leaves LUKS partitions out; they are listed all the same,
 *  so that the user sees why a partition holds nothing browsable instead of missing it. */
async function encryptedPartitions(g: Guestfish, listed: ReadonlySet<string>): Promise<{ device: string; type: string }[]> {
  const parts = (await g.must('list-partitions')).filter((p) => !listed.has(p));
  const types = await g.batch(parts.map((p) => `vfs-type ${p}`));
  return parts.flatMap((device, i) => {
    const type = types[i]!.lines[0] ?? '';
    return types[i]!.error === null && /^(crypto_|BitLocker$)/.test(type) ? [{ device, type }] : [];
  });
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

/** Splits `ID:/path` at the first ':' (ids never hold one); a bare `/path` is in GUEST_ROOT. */
export function parseFilePath(spec: string): { fs: string; path: string } {
  if (spec.startsWith('/')) return { fs: GUEST_ROOT, path: spec };
  const at = spec.indexOf(':');
  const path = at > 0 ? spec.slice(at + 1) : '';
  if (at <= 0 || !path.startsWith('/')) {
    throw new VmbakError('USAGE', { detail: `${spec}: give FILESYSTEM:/path, e.g. vda/p1:/etc/hostname, or /path in the guest OS (see vmbak files ls BACKUP)` });
  }
  return { fs: spec.slice(0, at), path };
}
