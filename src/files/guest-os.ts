// A bare `/path` means the guest OS's own view: its root filesystem with the filesystems its
// fstab mounts, found by libguestfs inspection (which reads /etc/fstab and resolves UUID=,
// LABEL= and device names to the appliance's devices). libguestfs 1.48 calls a filesystem a
// Linux root when it has a directory /etc, a directory /bin or a symlink /bin whose target is
// exactly `usr/bin`, and a file /etc/fstab or /etc/hosts (daemon/inspect_fs.ml); /etc/os-release
// only names the distribution. Filesystems are mounted read-only, shortest mountpoint first,
// so /var is mounted before /var/lib/mysql.

import { VmbakError } from '../core/index.ts';
import type { Filesystem } from './filesystems.ts';
import { quote, type Guestfish } from './guestfish.ts';

export interface GuestOs {
  /** The id of the root filesystem. */
  readonly rootId: string;
  /** Shortest mountpoint first; the first is `/`. */
  readonly mounts: readonly { readonly mountpoint: string; readonly fs: Filesystem }[];
}

/** The one guest OS on the backup's disks (GUEST_OS_NOT_UNIQUE when none or several). */
export async function inspectGuestOs(g: Guestfish, filesystems: readonly Filesystem[], backupId: string): Promise<GuestOs> {
  const byDevice = new Map(filesystems.map((f) => [f.device, f]));
  const idOf = (device: string) => byDevice.get(device)?.id ?? device;
  const roots = await g.must('inspect-os', 10 * 60_000);
  if (roots.length !== 1) {
    const detail = roots.length === 0 ? 'holds no guest OS that inspection recognises' : `holds ${roots.length} guest OSes (roots ${roots.map(idOf).join(', ')})`;
    const found = filesystems.map((f) => `${f.id} ${f.type}`).join(', ') || 'none';
    throw new VmbakError('GUEST_OS_NOT_UNIQUE', { backupId, detail, found });
  }
  const mounts = (await g.must(`inspect-get-mountpoints ${quote(roots[0]!)}`)).flatMap((line) => {
    // "MOUNTPOINT: DEVICE"; a mountpoint may hold ': ', a device never does.
    const at = line.lastIndexOf(': ');
    const fs = byDevice.get(line.slice(at + 2));
    return at > 0 && fs ? [{ mountpoint: line.slice(0, at), fs }] : [];
  });
  mounts.sort((a, b) => a.mountpoint.length - b.mountpoint.length);
  if (mounts[0]?.mountpoint !== '/') throw new VmbakError('FILE_BROWSER_FAILED', { detail: `inspection found no / among the mountpoints of ${idOf(roots[0]!)}` });
  return { rootId: mounts[0].fs.id, mounts };
}

/** Mounts the guest OS's filesystems read-only at the guestfish root, as its fstab says. */
export async function mountGuestOs(g: Guestfish, os: GuestOs, backupId: string): Promise<void> {
  for (const m of os.mounts) {
    const r = await g.run(`mount-ro ${quote(m.fs.device)} ${quote(m.mountpoint)}`);
    if (r.error !== null) {
      throw new VmbakError('FILESYSTEM_UNSUPPORTED', { fs: m.fs.id, backupId, detail: `${m.fs.type}, mounted at ${m.mountpoint} by the guest's fstab: ${r.error}` });
    }
  }
}
