// A small size-limited tmpfs for full-target tests. Mounting needs root; returns null when it
// is not possible (and the caller fails under CI, skips elsewhere).

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallFs {
  readonly dir: string;
  unmount(): Promise<void>;
}

export async function mountSmallTmpfs(sizeMiB: number, mode = '755'): Promise<SmallFs | null> {
  const dir = await mkdtemp(join(tmpdir(), 'vmbak-full-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=${mode}`, 'tmpfs', dir]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    if (process.env.CI === 'true') throw err;
    return null;
  }
  return {
    dir,
    unmount: async () => {
      await run('umount', ['-l', dir]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
