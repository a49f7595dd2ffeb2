// The chunk caches this process has open, one per repository, shared by every chunk table of
// that repository; the one-line warnings when a cache cannot be used; and gc's way to tell
// this host's cache about the packs it deletes.

import { statSync } from 'node:fs';
import { openCacheFile, chunkCacheDir, chunkCachePath } from './chunk-cache-file.ts';
import { ChunkCache } from './chunk-cache.ts';

const openCaches = new Map<string, ChunkCache>();
let exitHooked = false;
const warned = new Set<string>();

/**
 * The cache of one repository, opened once per process and shared by every table of it; null
 * (after a one-line warning) when it cannot be used, and the caller goes on in memory.
 */
export function chunkCacheFor(repositoryId: string): ChunkCache | null {
  if (process.env.VMBAK_CACHE === 'off') return null;
  const path = chunkCachePath(repositoryId, chunkCacheDir());
  const open = openCaches.get(path);
  if (open) return open;
  const result = openCacheFile(repositoryId, chunkCacheDir());
  if (!result.db) {
    warnCacheUnusable(result.path, result.reason, 'using an in-memory chunk table');
    return null;
  }
  const cache = new ChunkCache(result.db, result.path);
  // Closing checkpoints the log and removes it; a process that dies instead leaves a log that
  // the next open replays.
  if (!exitHooked) process.once('exit', closeChunkCaches);
  exitHooked = true;
  openCaches.set(path, cache);
  return cache;
}

/** The cache of a repository only if its file exists already (gc updates, never creates it). */
export function existingChunkCacheFor(repositoryId: string): ChunkCache | null {
  const path = chunkCachePath(repositoryId, chunkCacheDir());
  if (!openCaches.has(path) && !existsSyncSafe(path)) return null;
  return chunkCacheFor(repositoryId);
}

/** Forgets a failed cache so the next table of that repository opens it again (or rebuilds it). */
export function discardChunkCache(cache: ChunkCache, err: unknown, consequence: string): void {
  warnCacheUnusable(cache.path, (err as Error)?.message ?? String(err), consequence);
  cache.noteError(err);
  openCaches.delete(cache.path);
  try {
    cache.close();
  } catch {
    // Closing a damaged database may fail too; the file is rebuilt on the next open anyway.
  }
}

/** Closes every cache this process opened (tests; a process that exits needs not). */
export function closeChunkCaches(): void {
  for (const c of openCaches.values()) c.close();
  openCaches.clear();
}

export function warnCacheUnusable(path: string, reason: string, consequence: string): void {
  if (warned.has(path)) return;
  warned.add(path);
  process.stderr.write(`vmbak: warning: chunk cache ${path} unusable (${reason}); ${consequence}\n`);
}


/**
 * Removes packs from this host's cache of a repository, if it has one — gc calls it before it
 * deletes them. Other hosts' caches learn of the deletion when they next list `index/`.
 */
export function forgetCachedPacks(repositoryId: string, packIds: readonly string[]): void {
  if (packIds.length === 0) return;
  const cache = existingChunkCacheFor(repositoryId);
  if (!cache) return;
  try {
    cache.dropPacks(packIds.map((id) => cache.packNumberOf(id)).filter((n): n is number => n !== null));
  } catch (err) {
    discardChunkCache(cache, err, 'the next run rebuilds it');
  }
}

function existsSyncSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
