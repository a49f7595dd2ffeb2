// fsync by path: a file's data, or a folder's entries (a rename or a new name in it is durable
// only once its folder is synced).

import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** rename(), then an fsync of the destination's folder, so the new name survives a crash. */
export async function renameDurably(from: string, to: string): Promise<void> {
  await rename(from, to);
  await syncPath(dirname(to));
}
