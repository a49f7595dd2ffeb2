// Scratch space safety. During a pull-mode backup QEMU copies each guest-overwritten block
// into the scratch file first (copy-before-write); if the scratch filesystem fills, the
// guest's writes fail. So vmbak checks free space before it starts and watches it while the
// session is open, aborting the backup (never the guest) while a reserve is still free.
// Both measure the scratch folder as vmbak sees it, so first it makes sure QEMU sees the same
// filesystem there: QEMU keeps the mounts of the moment its VM started.

import { stat, statfs } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatBytes } from '../../core/index.ts';
import { VmbakError } from '../../core/index.ts';

export function defaultScratchRoot(): string {
  return process.env.VMBAK_SCRATCH_DIR ?? '/var/lib/vmbak/scratch';
}

/** Free space is kept above this while a backup runs unless configured otherwise. */
export const DEFAULT_SCRATCH_RESERVE_BYTES = 256 * 1024 * 1024;
/** Before starting, at least this share of the backed-up disks' size must be free. */
export const START_FREE_FRACTION = 0.1;

export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

export async function checkScratchSpace(dir: string, vm: string, diskBytes: number, reserveBytes: number): Promise<void> {
  const need = Math.max(reserveBytes, Math.ceil(diskBytes * START_FREE_FRACTION));
  const free = await freeBytes(dir);
  if (free < need) {
    throw new VmbakError('SCRATCH_SPACE_LOW', { dir, vm, freeBytes: formatBytes(free), needBytes: formatBytes(need) });
  }
}

/**
 * Refuses a scratch folder QEMU does not see as vmbak does. libvirt runs QEMU in a mount
 * namespace of its own, copied when the VM started; where that namespace does not receive later
 * mounts, a filesystem mounted on the folder afterwards hides, for vmbak only, the folder QEMU
 * would use: the space checks would measure the wrong filesystem, and QEMU would not find the
 * run folder vmbak makes. The folder is compared by device and inode with the one reached
 * through /proc/PID/root (QEMU's root, in its namespace). No pid (another URI, not root): no
 * check, as before.
 */
export async function checkScratchSeenByQemu(dir: string, vm: string, qemuPid: number | null): Promise<void> {
  if (qemuPid === null) return;
  const ours = await stat(dir);
  const qemuRoot = `/proc/${qemuPid}/root`;
  let theirs: Awaited<ReturnType<typeof stat>> | null;
  try {
    theirs = await stat(qemuRoot + resolve(dir));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return; // no access to QEMU's view: cannot tell
    // ENOENT also when QEMU exited meanwhile; then backup-begin says so.
    if (!(await stat(qemuRoot).then(() => true, () => false))) return;
    theirs = null;
  }
  if (theirs && theirs.dev === ours.dev && theirs.ino === ours.ino) return;
  throw new VmbakError('SCRATCH_HIDDEN_FROM_QEMU', { dir, vm });
}

export interface ScratchWatch {
  stop(): void;
}

/**
 * Polls free space in `dir`; the first time it drops below `reserveBytes`, calls onLow once
 * with a SCRATCH_SPACE_LOW error (the caller aborts the job). The timer does not keep the
 * process alive.
 */
export function watchScratch(dir: string, vm: string, reserveBytes: number, pollMs: number, onLow: (err: VmbakError) => void): ScratchWatch {
  let fired = false;
  let busy = false;
  const timer = setInterval(() => {
    if (fired || busy) return;
    busy = true;
    freeBytes(dir).then((free) => {
      if (free < reserveBytes && !fired) {
        fired = true;
        onLow(new VmbakError('SCRATCH_SPACE_LOW', { dir, vm, freeBytes: formatBytes(free), needBytes: formatBytes(reserveBytes) }));
      }
    }, () => undefined).finally(() => { busy = false; });
  }, pollMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
