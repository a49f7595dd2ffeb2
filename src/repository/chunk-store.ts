// Reading the chunk side of a repository: building the chunk table from pack indexes (through
// the local chunk cache when it can be used) and fetching chunk blobs, coalescing neighbouring
// blobs of one pack into one ranged read.

import { VmbakError, type Target } from '../core/index.ts';
import { ChunkTable, type ChunkLocation } from './chunk-table.ts';
import { CONFIG_OBJECT, PACK_INDEX_PREFIX, packIdFromIndexObject, packIndexObject, packObject } from './layout.ts';
import { decodeConfig } from './config.ts';
import { loadCachedChunkTable } from './chunk-cache-load.ts';
import { decodePackHeader, type PackEntry } from './pack-format.ts';
import type { MasterKeys } from './crypto.ts';

const INDEX_READS_IN_FLIGHT = 8;

/** Lists pack ids that have an index object. */
export async function listIndexedPacks(target: Target): Promise<string[]> {
  const objects = await target.list(PACK_INDEX_PREFIX);
  return objects.map((o) => packIdFromIndexObject(o.name)).filter((id): id is string => id !== null);
}

export async function readPackIndex(target: Target, keys: MasterKeys | null, packId: string): Promise<PackEntry[]> {
  const entries = decodePackHeader(keys, await target.get(packIndexObject(packId)));
  if (!entries) throw new VmbakError('PACK_CORRUPT', { packId, repo: target.displayUrl, detail: 'its index fails authentication' });
  return entries;
}

/**
 * The table of every stored chunk; packs in `exclude` (condemned by gc) are left out. It is a
 * view of the local chunk cache of the repository now at `target` (its id is read from the
 * config unless given), which reads only the pack indexes the cache lacks; without a usable
 * cache, every pack index is read into memory.
 */
export async function loadChunkTable(target: Target, keys: MasterKeys | null, exclude: ReadonlySet<string> = new Set(), repositoryId?: string): Promise<ChunkTable> {
  const id = repositoryId ?? decodeConfig(await target.get(CONFIG_OBJECT), target.displayUrl).repositoryId;
  const cached = await loadCachedChunkTable(id, {
    list: () => listIndexedPacks(target),
    read: (packId) => readPackIndex(target, keys, packId),
    forEach: (packIds, fn) => forEachLimited(packIds, INDEX_READS_IN_FLIGHT, fn),
  }, exclude);
  return cached ?? loadChunkTableInMemory(target, keys, exclude);
}

/** Reads every pack index into an in-memory table: ~120 bytes per unique chunk. */
export async function loadChunkTableInMemory(target: Target, keys: MasterKeys | null, exclude: ReadonlySet<string> = new Set()): Promise<ChunkTable> {
  const table = new ChunkTable();
  const packIds = (await listIndexedPacks(target)).filter((id) => !exclude.has(id));
  await forEachLimited(packIds, INDEX_READS_IN_FLIGHT, async (packId) => {
    for (const e of await readPackIndex(target, keys, packId)) {
      table.add(e.chunkId, { packId, offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes });
    }
  });
  return table;
}

export interface BlobRequest<T> {
  readonly location: ChunkLocation;
  readonly tag: T;
  /** The chunk's size decoded. */
  readonly plainBytes: number;
}

/** Decoded bytes per read at most: a read of well-compressed chunks decodes to many times its size. */
const MAX_PLAIN_BYTES_PER_READ = 8 << 20;

/**
 * Groups requests into ranged reads: blobs of the same pack that lie within `maxGapBytes` of
 * each other are read together, up to `maxReadBytes` per read and 8 MiB of them decoded.
 */
export function planBlobReads<T>(requests: readonly BlobRequest<T>[], maxReadBytes = 8 << 20, maxGapBytes = 256 << 10): { packId: string; offsetBytes: number; lengthBytes: number; members: BlobRequest<T>[] }[] {
  const sorted = [...requests].sort((a, b) =>
    a.location.packId < b.location.packId ? -1 : a.location.packId > b.location.packId ? 1 : a.location.offsetBytes - b.location.offsetBytes);
  const reads: { packId: string; offsetBytes: number; lengthBytes: number; members: BlobRequest<T>[] }[] = [];
  let plainBytes = 0;
  for (const req of sorted) {
    const last = reads[reads.length - 1];
    const loc = req.location;
    if (last && last.packId === loc.packId && loc.offsetBytes <= last.offsetBytes + last.lengthBytes + maxGapBytes &&
        loc.offsetBytes + loc.lengthBytes - last.offsetBytes <= maxReadBytes && plainBytes + req.plainBytes <= MAX_PLAIN_BYTES_PER_READ) {
      last.lengthBytes = Math.max(last.lengthBytes, loc.offsetBytes + loc.lengthBytes - last.offsetBytes);
      last.members.push(req);
      plainBytes += req.plainBytes;
    } else {
      reads.push({ packId: loc.packId, offsetBytes: loc.offsetBytes, lengthBytes: loc.lengthBytes, members: [req] });
      plainBytes = req.plainBytes;
    }
  }
  return reads;
}

export async function readPackRange(target: Target, packId: string, offsetBytes: number, lengthBytes: number): Promise<Buffer> {
  return target.get(packObject(packId), { offsetBytes, lengthBytes });
}

/** Runs fn over items with at most `limit` calls in flight; the first failure rejects. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown = null;
  const lane = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failed) throw failed;
}
