// Structural check: every object the repository's meaning depends on can be read and agrees
// with the others — pack indexes open and fit their packs, manifests and disk indexes open,
// digests match, every referenced chunk is in some pack index. It does not read chunk data
// (that is `verify`); with readPacks it also proves each pack's bytes against its id.

import { isVmbakError } from '../core/index.ts';
import type { Repository } from './repository.ts';
import { listBackups } from './backup-list.ts';
import { ChunkIdSet } from './chunk-id-set.ts';
import { listIndexedPacks, readPackIndex } from './chunk-store.ts';
import { PACKS_PREFIX, packIdFromObject, packObject } from './layout.ts';
import { readGcPlan } from './gc-plan.ts';
import { sha256 } from './crypto.ts';

export interface CheckReport {
  readonly errors: string[];
  readonly warnings: string[];
  readonly backupsChecked: number;
  readonly packsChecked: number;
}

export async function checkRepository(repo: Repository, opts: { readPacks: boolean }): Promise<CheckReport> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const packSizes = new Map<string, number>();
  for (const o of await repo.target.list(PACKS_PREFIX)) {
    const id = packIdFromObject(o.name);
    if (id) packSizes.set(id, o.sizeBytes);
  }
  const stored = new ChunkIdSet(16);
  const indexed = await listIndexedPacks(repo.target);
  for (const packId of indexed) {
    try {
      const entries = await readPackIndex(repo.target, repo.keys, packId);
      const size = packSizes.get(packId);
      if (size === undefined) { errors.push(`pack ${packId} is listed in the index but missing`); continue; }
      const end = entries.reduce((m, e) => Math.max(m, e.offsetBytes + e.lengthBytes), 0);
      if (end > size) errors.push(`pack ${packId} is shorter (${size} bytes) than its index says (${end})`);
      for (const e of entries) stored.add(e.chunkId);
      if (opts.readPacks && !sha256(await repo.target.get(packObject(packId))).equals(Buffer.from(packId, 'hex'))) {
        errors.push(`pack ${packId} is damaged: its content does not match its id`);
      }
    } catch (err) {
      errors.push(isVmbakError(err) ? err.message : String(err));
    }
  }
  const indexedSet = new Set(indexed);
  for (const packId of packSizes.keys()) {
    if (!indexedSet.has(packId)) warnings.push(`pack ${packId} has no index (left by an interrupted backup; gc removes it)`);
  }
  const { backups, damaged } = await listBackups(repo);
  for (const d of damaged) errors.push(d.detail);
  for (const m of backups) {
    for (const d of m.disks) {
      try {
        const index = await repo.readDiskIndex(m.backupId, d.name);
        if (index.digest() !== d.digest) { errors.push(`index of disk ${d.name} in backup ${m.backupId} does not match its manifest`); continue; }
        let missing = 0;
        let firstMissing = -1;
        for (let i = 0; i < index.count; i++) {
          if (!index.isZero(i) && !stored.has(index.id(i))) { if (missing++ === 0) firstMissing = i; }
        }
        if (missing > 0) errors.push(`backup ${m.backupId}, disk ${d.name}: ${missing} chunk(s) missing, the first at offset ${firstMissing * index.chunkSizeBytes}`);
      } catch (err) {
        errors.push(isVmbakError(err) ? err.message : String(err));
      }
    }
  }
  try {
    await readGcPlan(repo);
  } catch (err) {
    errors.push(isVmbakError(err) ? err.message : String(err));
  }
  return { errors, warnings, backupsChecked: backups.length, packsChecked: indexed.length };
}
