// Proof that a copy landed: every chunk the copy wrote is read back from the destination's
// packs and authenticated with the destination's key (AES-GCM with the chunk id as associated
// data, or SHA-256 against the id when unencrypted), and every chunk the copied disk indexes
// name is in the destination's chunk table. Only then is the manifest written.

import { VmbakError } from '../core/index.ts';
import { planBlobReads, type ChunkTable, type DiskIndex, type Repository } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { runLimited } from './backup-disk.ts';
import { readPackPiece } from './pack-read.ts';

export async function readBackWrittenChunks(
  repo: Repository, table: ChunkTable, pool: WorkerPool, backupId: string,
  chunks: readonly { id: Buffer; lengthBytes: number }[], signal: AbortSignal,
): Promise<number> {
  const requests = chunks.map((c) => {
    const location = table.get(c.id);
    if (!location) throw new VmbakError('CHUNK_MISSING', { chunkId: c.id.toString('hex').slice(0, 16), backupId, disk: '(copy)', offset: 0, repo: repo.displayUrl });
    return { location, tag: c, plainBytes: c.lengthBytes };
  });
  let bytesChecked = 0;
  await runLimited(planBlobReads(requests), 4, signal, async (read) => {
    const reply = await readPackPiece(repo.target, pool, read, read.members.map((m) => ({ location: m.location, chunkId: m.tag.id, plainBytes: m.tag.lengthBytes })), 'discard');
    read.members.forEach((m, k) => {
      const r = reply.results[k]!;
      if (typeof r === 'string' || r !== m.tag.lengthBytes) {
        throw new VmbakError('PACK_CORRUPT', { packId: read.packId, repo: repo.displayUrl, detail: `chunk ${m.tag.id.toString('hex').slice(0, 16)} written by the copy of ${backupId} reads back wrong: ${typeof r === 'string' ? r : `length ${r}`}` });
      }
      bytesChecked += r;
    });
  });
  return bytesChecked;
}

/** Throws when a copied index names a chunk the destination does not hold. */
export function assertIndexComplete(repo: Repository, table: ChunkTable, backupId: string, disk: string, index: DiskIndex): void {
  for (let i = 0; i < index.count; i++) {
    if (!index.isZero(i) && !table.has(index.id(i))) {
      throw new VmbakError('CHUNK_MISSING', { chunkId: index.id(i).toString('hex').slice(0, 16), backupId, disk, offset: i * index.chunkSizeBytes, repo: repo.displayUrl });
    }
  }
}
