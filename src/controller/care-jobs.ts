// Care of a repository as jobs: verify (re-read and authenticate the chunks backups need,
// recording each backup's result in the catalog so no incremental is based on a damaged one),
// gc (free what no backup refers to) and usage samples for the console's charts.

import { listBackups as listCatalogBackups, recordUsage, setVerifyState, type Catalog, type SecretsBox } from '../catalog/index.ts';
import { runGc, verifyRepository } from '../services/index.ts';
import { loadChunkTable, type Repository } from '../repository/index.ts';
import { withRepository } from './repositories.ts';
import type { JobExecutor } from './job-runner.ts';

export interface CareJobDeps {
  readonly catalog: Catalog;
  readonly secrets: SecretsBox;
}

export function verifyExecutor(deps: CareJobDeps): JobExecutor {
  return async (ctx) => {
    const { repository, backups = [] } = ctx.job.params as { repository: string; backups?: string[] };
    return withRepository(deps.catalog, deps.secrets, repository, async (repo) => {
      const result = await verifyRepository(repo, backups, { signal: ctx.signal, progress: ctx.progress });
      const damaged = new Set(result.problems.map((p) => p.backupId));
      for (const p of result.problems) ctx.log('error', p.message);
      const ids = backups.length > 0 ? backups : (await listCatalogBackups(deps.catalog, { repository, limit: 100_000 })).items.map((b) => b.backupId);
      for (const id of ids) await setVerifyState(deps.catalog, repository, id, damaged.has(id) ? 'failed' : 'ok');
      ctx.log('info', `verified ${result.backupsChecked} backup(s), ${result.bytesChecked} bytes: ${result.problems.length} problem(s)`);
      return result.failure ? { state: 'failed', error: result.failure.message } : { state: 'succeeded' };
    });
  };
}

export function gcExecutor(deps: CareJobDeps): JobExecutor {
  return async (ctx) => {
    const { repository } = ctx.job.params as { repository: string };
    return withRepository(deps.catalog, deps.secrets, repository, async (repo) => {
      const report = await runGc(repo, { dryRun: false });
      ctx.log('info', `gc: deleted ${report.packsDeleted} pack(s), repacked ${report.packsRepacked}, freed ${report.bytesFreed} bytes`);
      if (report.deferredBecause) ctx.log('info', `gc: ${report.packsCondemned} pack(s) kept for a later gc: ${report.deferredBecause}`);
      await sampleUsage(deps.catalog, repository, repo);
      return { state: 'succeeded' };
    });
  };
}

/**
 * What the repository holds now, as one usage sample: stored bytes (its packs), unique chunks,
 * and the ratios against what its backups describe (from the catalog's copy of the manifests).
 */
export async function sampleUsage(catalog: Catalog, repository: string, repo: Repository): Promise<void> {
  const packs = await repo.target.list('packs/');
  const storedBytes = packs.reduce((s, p) => s + p.sizeBytes, 0);
  const chunkCount = (await loadChunkTable(repo.target, repo.keys, new Set(), repo.config.repositoryId)).size;
  let logicalBytes = 0;
  let newBytes = 0;
  for (let cursor: string | undefined; ;) {
    const page = await listCatalogBackups(catalog, { repository, limit: 1000, cursor });
    for (const b of page.items) { logicalBytes += b.logicalBytes; newBytes += b.newBytes; }
    if (!page.next) break;
    cursor = page.next;
  }
  await recordUsage(catalog, repository, {
    storedBytes, logicalBytes, chunkCount, capacityBytes: null,
    dedupRatio: newBytes > 0 ? logicalBytes / newBytes : 1, compressionRatio: storedBytes > 0 ? newBytes / storedBytes : 1,
  });
}
