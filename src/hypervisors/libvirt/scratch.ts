// Scratch space safety. During a pull-mode backup QEMU copies each guest-overwritten block
// into the scratch file first (copy-before-write); if the scratch filesystem fills, the
// guest's writes fail. So vmbak checks free space before it starts and watches it while the
// session is open, aborting the backup (never the guest) while a reserve is still free.

import { statfs } from 'node:fs/promises';
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
