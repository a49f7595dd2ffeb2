// File indexes made by the controller. A policy with `fileIndex` indexes the files of each backup its run made, after the backups
// (so indexing never holds up a backup window), one backup at a time (each walk runs one
// appliance). The index goes into the repository and the catalog's cache; a failure is a
// warning of the job, never a failed backup: the backup itself is complete without it.

import { indexBackup } from '../files/index.ts';
import type { Manifest } from '../repository/index.ts';
import { resolveBackupRef } from '../services/index.ts';
import type { JobContext, JobExecutor } from './job-runner.ts';
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

export interface IndexJobParams {
  readonly repository: string;
  readonly backup: string;
  readonly full?: boolean;
}

/** An `index` job: one backup's file index on demand (the API's POST …/index), as `vmbak index`.
 *  Unlike indexing after a policy's backups, the index is the job's whole point: its failure
 *  fails the job, and walk warnings (unreadable directories, a filesystem past a limit) make it
 *  end in `warning`. */
export function indexExecutor(deps: { readonly store: JobStore }): JobExecutor {
  return async (ctx) => {
    const p = ctx.job.params as unknown as IndexJobParams;
    return withRepository(deps.store, p.repository, async (repo) => {
      const backup = await resolveBackupRef(repo, p.backup);
      const r = await indexBackup({ repo, backup, full: p.full === true });
      const ref = { repository: p.repository, backupId: backup.backupId, vmKey: backup.vm.key, vmName: backup.vm.name, timeMs: Date.parse(backup.time) };
      await deps.store.cacheFileIndex(ref, r.index);
      let warned = false;
      for (const fs of r.index.header.filesystems) {
        // Swap, encrypted partitions and unformatted space have no files: not indexing them is no warning (as with `vmbak index`).
        const expected = fs.error !== null && /swap|-encrypted|no filesystem/.test(fs.error);
        if (fs.error !== null) ctx.log(expected ? 'info' : 'warning', `${fs.id}: not indexed: ${fs.error}`, backup.vm.key);
        for (const w of fs.warnings ?? []) ctx.log('warning', `${fs.id}: ${w}`, backup.vm.key);
        warned ||= (fs.error !== null && !expected) || (fs.warnings ?? []).length > 0;
      }
      const files = r.index.header.filesystems.reduce((n, f) => n + f.entryCount, 0);
      ctx.log('info', `${backup.vm.name}: indexed ${files} files of ${backup.backupId} in ${Math.round(r.durationMs / 1000)} s (walked ${r.walked.join(', ') || 'none'}; unchanged since ${r.baseBackupId ?? '-'}: ${r.reused.join(', ') || 'none'})`, backup.vm.key);
      return { state: warned ? 'warning' : 'succeeded' };
    }, deps.store.alert);
  };
}
