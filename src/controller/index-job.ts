// A policy with `fileIndex` indexes the files of each backup its run made, after the backups
// (so indexing never holds up a backup window), one backup at a time (each walk runs one
// appliance). The index goes into the repository and the catalog's cache; a failure is a
// warning of the job, never a failed backup: the backup itself is complete without it.

import { indexBackup } from '../files/index.ts';
import type { Manifest } from '../repository/index.ts';
import type { JobContext } from './job-runner.ts';
import type { JobStore } from './job-store.ts';
import { withRepository } from './repositories.ts';

export interface NewBackup { readonly repository: string; readonly manifest: Manifest }

export async function indexNewBackups(deps: { store: JobStore }, ctx: JobContext, made: readonly NewBackup[]): Promise<void> {
  for (const { repository, manifest } of made) {
    if (ctx.signal.aborted) return;
    try {
      // Opened anew: the backup run has closed its own handles.
      const r = await withRepository(deps.store, repository, (repo) => indexBackup({ repo, backup: manifest }));
      await deps.store.cacheFileIndex({ repository, backupId: manifest.backupId, vmKey: manifest.vm.key, vmName: manifest.vm.name, timeMs: Date.parse(manifest.time) }, r.index);
      ctx.log('info', `${manifest.vm.name}: indexed ${r.index.header.filesystems.reduce((n, f) => n + f.entryCount, 0)} files of ${manifest.backupId} (walked ${r.walked.join(', ') || 'none'}; unchanged ${r.reused.join(', ') || 'none'})`, manifest.vm.key);
    } catch (err) {
      ctx.log('warning', `${manifest.vm.name}: file index of ${manifest.backupId} failed: ${(err as Error).message}`, manifest.vm.key);
    }
  }
}
