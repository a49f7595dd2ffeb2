// fsync by path: a file's data, or a folder's entries (a rename or a new name in it is durable
// only once its folder is synced).

import { open } from 'node:fs/promises';

export async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
