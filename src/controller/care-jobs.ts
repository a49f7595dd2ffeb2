// Care of a repository as jobs: verify (re-read and authenticate the chunks backups need,
// recording each backup's result in the catalog so no incremental is based on a damaged one),
// gc (free what no backup refers to) and usage samples for the console's charts — each
// sample also checks how full the repository is.

import { parseSize } from '../core/index.ts';
import {
  backupIdsInVerifyState, getRepository, listBackups as listCatalogBackups, recordUsage, setVerifyState, type Catalog, type SecretsBox,
} from '../catalog/index.ts';
import { runGc, verifyRepository } from '../services/index.ts';
import { listBackupIds, loadChunkTable, type Repository } from '../repository/index.ts';
import { withRepository, type RaiseAlert } from './repositories.ts';
import type { JobExecutor } from './job-runner.ts';

export interface CareJobDeps {
  readonly catalog: Catalog;
  readonly secrets: SecretsBox;
  /** Raises an alert (repository unreachable or nearly full); returns at once. */
  readonly alert: RaiseAlert;
}

export interface VerifyJobParams {
  readonly repository: string;
  /** Backup ids to verify; without them, `scope` says which. */
  readonly backups?: readonly string[];
  /** `new`: the backups the catalog has not seen verified; `all` (default): every one. */
  readonly scope?: 'new' | 'all';
}

export function verifyExecutor(deps: CareJobDeps): JobExecutor {
  return async (ctx) => {
    const params = ctx.job.params as unknown as VerifyJobParams;
    const { repository } = params;
    return withRepository(deps.catalog, deps.secrets, repository, async (repo) => {
      const backups = await backupsToVerify(deps.catalog, repo, params);
      if (backups !== null && backups.length === 0) {
        ctx.log('info', 'no backup to verify: every one was verified before');
        return { state: 'succeeded' };
      }
      const result = await verifyRepository(repo, backups ?? [], { signal: ctx.signal, progress: ctx.progress });
      const damaged = new Set(result.problems.map((p) => p.backupId));
      for (const p of result.problems) ctx.log('error', p.message);
      const ids = backups ?? (await listCatalogBackups(deps.catalog, { repository, limit: 100_000 })).items.map((b) => b.backupId);
      for (const id of ids) await setVerifyState(deps.catalog, repository, id, damaged.has(id) ? 'failed' : 'ok');
      ctx.log('info', `verified ${result.backupsChecked} backup(s), ${result.bytesChecked} bytes: ${result.problems.length} problem(s)`);
      return result.failure ? { state: 'failed', error: result.failure.message } : { state: 'succeeded' };
    }, deps.alert);
  };
}

/** The backup ids a verify job reads, or null for every backup in the repository. */
async function backupsToVerify(catalog: Catalog, repo: Repository, params: VerifyJobParams): Promise<readonly string[] | null> {
  if (params.backups?.length) return params.backups;
  if (params.scope !== 'new') return null;
  // The catalog may still list a backup the CLI has pruned since: verify only what is there.
  const present = new Set(await listBackupIds(repo));
  return (await backupIdsInVerifyState(catalog, [params.repository], 'unverified')).filter((id) => present.has(id));
}

export function gcExecutor(deps: CareJobDeps): JobExecutor {
  return async (ctx) => {
    const { repository } = ctx.job.params as { repository: string };
    return withRepository(deps.catalog, deps.secrets, repository, async (repo) => {
      const report = await runGc(repo, { dryRun: false });
      ctx.log('info', `gc: deleted ${report.packsDeleted} pack(s), repacked ${report.packsRepacked}, freed ${report.bytesFreed} bytes`);
      if (report.deferredBecause) ctx.log('info', `gc: ${report.packsCondemned} pack(s) kept for a later gc: ${report.deferredBecause}`);
      await sampleUsage(deps, repository, repo);
      return { state: 'succeeded' };
    }, deps.alert);
  };
}

/**
 * What the repository holds now, as one usage sample: stored bytes (its packs), unique chunks,
 * the ratios against what its backups describe (from the catalog's copy of the manifests) and
 * the capacity — the care spec's where given (an S3 quota), else the filesystem's. At the care
 * spec's threshold it raises repository.nearly-full.
 */
export async function sampleUsage(deps: Pick<CareJobDeps, 'catalog' | 'alert'>, repository: string, repo: Repository): Promise<void> {
  const { catalog } = deps;
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
  const fullness = await measureFullness(catalog, repository, repo, storedBytes);
  await recordUsage(catalog, repository, {
    storedBytes, logicalBytes, chunkCount, capacityBytes: fullness?.capacityBytes ?? null,
    dedupRatio: newBytes > 0 ? logicalBytes / newBytes : 1, compressionRatio: storedBytes > 0 ? newBytes / storedBytes : 1,
  });
  if (fullness && fullness.usedPercent >= fullness.thresholdPercent) {
    deps.alert({
      kind: 'repository.nearly-full', key: repository, severity: 'warning', timeMs: catalog.clock.nowMs(),
      message: `repository ${repository} is ${fullness.usedPercent.toFixed(1)}% full (${fullness.freeBytes} of ${fullness.capacityBytes} bytes free; alert at ${fullness.thresholdPercent}%)`,
      data: { repository, ...fullness },
    });
  }
}

interface Fullness {
  readonly capacityBytes: number;
  readonly freeBytes: number;
  readonly usedPercent: number;
  readonly thresholdPercent: number;
}

async function measureFullness(catalog: Catalog, repository: string, repo: Repository, storedBytes: number): Promise<Fullness | null> {
  const care = (await getRepository(catalog, repository))?.care;
  if (!care) return null;
  const quota = care.capacity ? parseSize(care.capacity) : null;
  if (quota) {
    const freeBytes = Math.max(0, quota - storedBytes);
    return { capacityBytes: quota, freeBytes, usedPercent: (storedBytes / quota) * 100, thresholdPercent: care.nearlyFullPercent };
  }
  const space = await repo.target.space?.();
  if (!space || space.totalBytes <= 0) return null;
  const usedPercent = ((space.totalBytes - space.freeBytes) / space.totalBytes) * 100;
  return { capacityBytes: space.totalBytes, freeBytes: space.freeBytes, usedPercent, thresholdPercent: care.nearlyFullPercent };
}
