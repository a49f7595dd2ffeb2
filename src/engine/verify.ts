// Verify: re-read and authenticate every chunk the chosen backups need, each stored chunk
// once however many backups share it, and name every backup, disk and offset a bad or missing
// chunk breaks.

import { VmbakError, isVmbakError } from '../core/index.ts';
import { acquireLock, chunkKeyOf, loadChunkTable, noteGcPlan, operationLockName, planBlobReads, readPackRange, type ChunkLocation, type Manifest, type Repository } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { runLimited } from './backup-disk.ts';
import { decodePackPiece } from './pack-read.ts';
import type { ProgressCounters } from './progress.ts';

export interface VerifyProblem {
  readonly backupId: string;
  readonly disk: string | null;
  readonly offsetBytes: number | null;
  readonly message: string;
}

interface ChunkUse {
  readonly id: Buffer;
  readonly location: ChunkLocation;
  readonly lengthBytes: number;
  readonly uses: { backupId: string; disk: string; offsetBytes: number }[];
}

export async function verifyBackups(repo: Repository, manifests: readonly Manifest[], pool: WorkerPool, runSignal: AbortSignal, progress: ProgressCounters): Promise<VerifyProblem[]> {
  const lock = await acquireLock(repo.target, operationLockName(), 'verify', 'verify');
  // Without the lease gc may delete what is still to be read: the problems found would be its doing.
  const signal = AbortSignal.any([runSignal, lock.signal]);
  try {
    await noteGcPlan(repo, lock);
    const problems: VerifyProblem[] = [];
    const table = await loadChunkTable(repo.target, repo.keys, new Set(), repo.config.repositoryId);
    const chunks = new Map<string, ChunkUse>();
    for (const m of manifests) {
      for (const d of m.disks) {
        let index;
        try {
          index = await repo.readDiskIndex(m.backupId, d.name);
        } catch (err) {
          if (!isVmbakError(err)) throw err;
          problems.push({ backupId: m.backupId, disk: d.name, offsetBytes: null, message: err.message });
          continue;
        }
        if (index.digest() !== d.digest) problems.push({ backupId: m.backupId, disk: d.name, offsetBytes: null, message: `index of disk ${d.name} in backup ${m.backupId} does not match its manifest` });
        for (let i = 0; i < index.count; i++) {
          if (index.isZero(i)) continue;
          const id = index.id(i);
          const offsetBytes = i * index.chunkSizeBytes;
          const location = table.get(id);
          if (!location) {
            problems.push({ backupId: m.backupId, disk: d.name, offsetBytes, message: new VmbakError('CHUNK_MISSING', { chunkId: id.toString('hex').slice(0, 16), backupId: m.backupId, disk: d.name, offset: offsetBytes, repo: repo.displayUrl }).message });
            continue;
          }
          const key = chunkKeyOf(id);
          let use = chunks.get(key);
          if (!use) chunks.set(key, use = { id: Buffer.from(id), location, lengthBytes: index.chunkLength(i), uses: [] });
          use.uses.push({ backupId: m.backupId, disk: d.name, offsetBytes });
        }
      }
    }
    const requests = [...chunks.values()].map((c) => ({ location: c.location, tag: c, plainBytes: c.lengthBytes }));
    progress.bytesToRead = requests.reduce((s, r) => s + r.tag.lengthBytes, 0);
    await runLimited(planBlobReads(requests, 4 << 20), 4, signal, async (read) => {
      let data: Buffer;
      try {
        data = await readPackRange(repo.target, read.packId, read.offsetBytes, read.lengthBytes);
      } catch (err) {
        if (!isVmbakError(err)) throw err;
        for (const m of read.members) reportBad(problems, m.tag, err.message);
        return;
      }
      const reply = await decodePackPiece(pool, read, data, read.members.map((m) => ({ location: m.location, chunkId: m.tag.id, plainBytes: m.tag.lengthBytes })), 'discard');
      read.members.forEach((m, k) => {
        const r = reply.results[k]!;
        if (typeof r === 'string') reportBad(problems, m.tag, r);
        else if (r !== m.tag.lengthBytes) reportBad(problems, m.tag, `wrong length ${r}`);
        progress.bytesRead += m.tag.lengthBytes;
      });
    });
    await lock.assertHeld();
    return problems;
  } finally {
    await lock.release().catch(() => {});
  }
}

function reportBad(problems: VerifyProblem[], chunk: ChunkUse, detail: string): void {
  for (const u of chunk.uses) {
    problems.push({
      backupId: u.backupId, disk: u.disk, offsetBytes: u.offsetBytes,
      message: new VmbakError('CHUNK_CORRUPT', { chunkId: chunk.id.toString('hex').slice(0, 16), backupId: u.backupId, disk: u.disk, offset: u.offsetBytes, detail }).message,
    });
  }
}
