// Disk images restored for download live in the controller's data directory, one directory per
// request. Nothing else deletes them, and a disk image is big: each new download request first
// removes the ones older than DOWNLOAD_KEEP_MS, so the directory holds about a day's worth.

import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const DOWNLOAD_KEEP_MS = 24 * 3600_000;

/** A fresh directory name for one download (made by the restore job), after sweeping old ones. */
export async function nextDownloadDir(downloadsDir: string, nowMs: number): Promise<string> {
  await mkdir(downloadsDir, { recursive: true, mode: 0o700 });
  for (const name of await readdir(downloadsDir)) {
    const path = join(downloadsDir, name);
    const info = await stat(path).catch(() => null);
    if (info && nowMs - info.mtimeMs > DOWNLOAD_KEEP_MS) await rm(path, { recursive: true, force: true });
  }
  return join(downloadsDir, randomUUID());
}
