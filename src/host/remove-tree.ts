// Removing a directory that another process is emptying at the same time. libvirt unlinks a
// backup's scratch files when its job ends, and does so after `domjobabort` returns; Node's
// recursive rmSync treats the vanished entry as ENOENT and, with `force`, returns quietly
// with the directory still there. So the removal is repeated until the directory is gone.

import { existsSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const ATTEMPTS = 50;
const PAUSE_MS = 20;

/** Removes `dir` and everything under it; throws if it still exists after every attempt. */
export async function removeTree(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      if (attempt >= ATTEMPTS) throw err;
    }
    if (!existsSync(dir)) return;
    if (attempt >= ATTEMPTS) throw new Error(`${dir} could not be removed`);
    await sleep(PAUSE_MS);
  }
}
