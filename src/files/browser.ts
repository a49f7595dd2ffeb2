// A browsing session over one backup: its disks served read-only over NBD on a private unix
// socket (straight from the repository), one libguestfs appliance reading them, and the
// filesystem mounted last kept mounted so walking one tree costs one mount.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { VmbakError } from '../core/index.ts';
import { NbdServer } from '../nbd/index.ts';
import type { Manifest, Repository } from '../repository/index.ts';
import { openBackupExport, type BackupExportSession } from '../services/index.ts';
import { Guestfish, quote } from './guestfish.ts';
import { findFilesystems, whyUnbrowsable, GUEST_ROOT, type Filesystem } from './filesystems.ts';
import { inspectGuestOs, mountGuestOs, type GuestOs } from './guest-os.ts';

export interface FileBrowserRequest {
  readonly repo: Repository;
  readonly backup: Manifest;
  /** Closes the whole session (appliance, NBD export) after this long without a request (default: never; close() does). */
  readonly idleTimeoutMs?: number;
  /** Time allowed for the appliance to start (TCG under load takes 10–30 s). */
  readonly launchTimeoutMs?: number;
}

export interface FileBrowser {
  readonly backup: Manifest;
  /** How long the appliance took to start, in ms. */
  readonly launchMs: number;
  readonly filesystems: readonly Filesystem[];
  /** The appliance's whole-disk devices (`/dev/sda`…) → the backup's disk names. */
  readonly diskOf: ReadonlyMap<string, string>;
  /** The appliance, for commands that need no mount (device tables). */
  readonly guestfish: Guestfish;
  /** Mounts the filesystem (read-only) if it is not the one mounted — or, for GUEST_ROOT, the
   *  guest OS's filesystems as its fstab says; returns the guestfish session. */
  mounted(fsId: string): Promise<Guestfish>;
  /** A FILE_NOT_FOUND error for this path. */
  notFound(fsId: string, path: string): VmbakError;
  close(): Promise<void>;
}

export async function openFileBrowser(req: FileBrowserRequest): Promise<FileBrowser> {
  const cleanup: (() => Promise<void>)[] = [];
  // Idempotent: the idle timer and close() may both call it.
  const closeAll = async () => { for (const c of cleanup.splice(0).reverse()) await c().catch(() => {}); };
  try {
    const dir = await mkdtemp(join(tmpdir(), 'vmbak-files-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const session: BackupExportSession = await openBackupExport({ repo: req.repo, backup: req.backup, disk: null });
    cleanup.push(() => session.close());
    const server = new NbdServer({ exports: session.exports });
    const socket = join(dir, 'nbd.sock');
    await server.listen({ path: socket });
    cleanup.push(() => server.close());
    const g = await Guestfish.start({ idleTimeoutMs: req.idleTimeoutMs, onIdle: () => { void closeAll(); } });
    cleanup.push(() => g.close());
    const disks = session.exports.map((e) => e.name);
    // With protocol nbd, the "filename" is the export name.
    for (const name of disks) {
      await g.must(`add-drive ${quote(name)} readonly:true format:raw protocol:nbd ${quote(`server:unix:${socket}`)}`);
    }
    const started = Date.now();
    await g.must('run', req.launchTimeoutMs ?? 300_000);
    const launchMs = Date.now() - started;
    const filesystems = await findFilesystems(g, disks);
    const devices = await g.must('list-devices');
    const diskOf = new Map(devices.map((dev, i) => [dev, disks[i] ?? dev.replace('/dev/', '')]));
    return browser(req.backup, g, filesystems, diskOf, launchMs, closeAll);
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function browser(
  backup: Manifest, g: Guestfish, filesystems: readonly Filesystem[], diskOf: ReadonlyMap<string, string>, launchMs: number, close: () => Promise<void>,
): FileBrowser {
  let mountedId: string | null = null;
  // Inspected once per session, on the first bare path.
  let guestOs: Promise<GuestOs> | null = null;
  const mountGuest = async () => {
    guestOs ??= inspectGuestOs(g, filesystems, backup.backupId);
    guestOs.catch(() => { guestOs = null; });
    const os = await guestOs;
    if (mountedId === GUEST_ROOT) return g;
    await g.must('umount-all');
    mountedId = null;
    await mountGuestOs(g, os, backup.backupId);
    mountedId = GUEST_ROOT;
    return g;
  };
  const mounted = async (fsId: string) => {
    if (fsId === GUEST_ROOT) return mountGuest();
    const fs = filesystems.find((f) => f.id === fsId);
    if (!fs) {
      const found = filesystems.map((f) => `${f.id} ${f.type}`).join(', ') || 'none';
      throw new VmbakError('FILESYSTEM_NOT_FOUND', { fs: fsId, backupId: backup.backupId, found });
    }
    if (mountedId === fsId) return g;
    const why = whyUnbrowsable(fs.type);
    if (why) throw new VmbakError('FILESYSTEM_UNSUPPORTED', { fs: fsId, backupId: backup.backupId, detail: `${fs.type}: ${why}` });
    await g.must('umount-all');
    mountedId = null;
    const r = await g.run(`mount-ro ${quote(fs.device)} /`);
    if (r.error !== null) throw new VmbakError('FILESYSTEM_UNSUPPORTED', { fs: fsId, backupId: backup.backupId, detail: `${fs.type}: ${r.error}` });
    mountedId = fsId;
    return g;
  };
  const notFound = (fsId: string, path: string) => new VmbakError('FILE_NOT_FOUND', { path, fs: fsId === GUEST_ROOT ? 'tree of the guest OS' : fsId, backupId: backup.backupId });
  return { backup, launchMs, filesystems, diskOf, guestfish: g, mounted, notFound, close };
}

/** A guest path made canonical: absolute, no `.`/`..`/double slashes. */
export function guestPath(path: string): string {
  const p = posix.normalize(`/${path}`);
  return p.length > 1 ? p.replace(/\/$/, '') : p;
}
