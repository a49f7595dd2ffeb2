// `vmbak files find` without a controller: reads the index object of every selected backup
// in the repository (no appliance), and tells which selected backups have no index, so an
// empty answer is never mistaken for "not there" when it only means "not indexed".

import { forEachLimited, listBackups, matchesVm, type Repository } from '../repository/index.ts';
import { DEFAULT_MAX_HITS, backupSelected, globMatcher, groupVersions, type FindQuery, type FoundEntry, type FoundFile } from './find-files.ts';

export interface FindResult {
  readonly files: FoundFile[];
  /** Selected backups without a file index. */
  readonly unindexed: string[];
  readonly searchedBackups: number;
  /** True when maxHits stopped the search early. */
  readonly truncated: boolean;
}

export async function findInRepository(repo: Repository, q: FindQuery): Promise<FindResult> {
  const matches = globMatcher(q.pattern);
  const maxHits = q.maxHits ?? DEFAULT_MAX_HITS;
  const { backups } = await listBackups(repo);
  const selected = backups.filter((m) => backupSelected({ backupId: m.backupId, vmKey: m.vm.key, vmName: m.vm.name, timeMs: Date.parse(m.time) }, q, () => matchesVm(m, q.vm!)));
  const found: FoundEntry[] = [];
  const unindexed: string[] = [];
  let truncated = false;
  await forEachLimited(selected, 4, async (m) => {
    const index = await repo.readFileIndex(m.backupId);
    if (!index) { unindexed.push(m.backupId); return; }
    const backup = { backupId: m.backupId, vmKey: m.vm.key, vmName: m.vm.name, timeMs: Date.parse(m.time) };
    index.header.filesystems.forEach((fs, i) => {
      for (const entry of index.entries[i]!) {
        if (!matches(entry.path)) continue;
        if (found.length >= maxHits) { truncated = true; return; }
        found.push({ backup, fs: fs.id, entry });
      }
    });
  });
  return { files: groupVersions(found), unindexed: unindexed.sort(), searchedBackups: selected.length, truncated };
}
