// Care of a repository as jobs: verify (re-read and authenticate the chunks backups need,
// recording each backup's result in the catalog so no incremental is based on a damaged one),
// gc (free what no backup refers to) and usage samples for the console's charts — each
// sample also checks how full the repository is.

import { VmbakError, parseSize } from '../core/index.ts';
import { executeRepositoryPrune, planRepositoryPrune, runGc, verifyRepository } from '../services/index.ts';
import { listBackupIds, loadChunkTable, type Repository } from '../repository/index.ts';
import { withRepository } from './repositories.ts';
import type { JobExecutor } from './job-runner.ts';
import type { JobStore } from './job-store.ts';

export interface CareJobDeps {
  readonly store: JobStore;
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
    return withRepository(deps.store, repository, async (repo) => {
      const backups = await backupsToVerify(deps.store, repo, params);
      if (backups !== null && backups.length === 0) {
        ctx.log('info', 'no backup to verify: every one was verified before');
        return { state: 'succeeded' };
      }
      const result = await verifyRepository(repo, backups ?? [], { signal: ctx.signal, progress: ctx.progress });
      const damaged = new Set(result.problems.map((p) => p.backupId));
      for (const p of result.problems) ctx.log('error', p.message);
      const ids = backups ?? await listBackupIds(repo);
      for (const id of ids) await deps.store.setVerifyState(repository, id, damaged.has(id) ? 'failed' : 'ok');
      ctx.log('info', `verified ${result.backupsChecked} backup(s), ${result.bytesChecked} bytes: ${result.problems.length} problem(s)`);
      return result.failure ? { state: 'failed', error: result.failure.message } : { state: 'succeeded' };
    }, deps.store.alert);
  };
}

/** The backup ids a verify job reads, or null for every backup in the repository. */
async function backupsToVerify(store: JobStore, repo: Repository, params: VerifyJobParams): Promise<readonly string[] | null> {
  if (params.backups?.length) return params.backups;
  if (params.scope !== 'new') return null;
  // The catalog may still list a backup the CLI has pruned since: verify only what is there.
  const present = new Set(await listBackupIds(repo));
  return (await store.backupIdsInVerifyState([params.repository], 'unverified')).filter((id) => present.has(id));
}

export interface PruneJobParams {
  readonly policy: string;
  /** The keys (UUIDs) of the VMs whose backups the policy's retention applies to, resolved when queued. */
  readonly vmKeys: readonly string[];
}

/** A policy's retention in each of its repositories, for the VMs it selects; the catalog forgets what goes. */
export function pruneExecutor(deps: CareJobDeps): JobExecutor {
  return async (ctx) => {
    const { policy, vmKeys } = ctx.job.params as unknown as PruneJobParams;
    const spec = await deps.store.policySpec(policy);
    if (!spec) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: policy });
    if (!spec.retention) return { state: 'succeeded', error: null };
    let removed = 0;
    for (const name of spec.repositories) {
      await withRepository(deps.store, name, async (repo) => {
        for (const key of vmKeys) {
          const plan = await planRepositoryPrune(repo, spec.retention!, key);
          if (plan.remove.length === 0) continue;
          await executeRepositoryPrune(repo, plan);
          await deps.store.forgetBackups(name, plan.remove.map((m) => m.backupId));
          removed += plan.remove.length;
          ctx.log('info', `retention: removed ${plan.remove.length} backup(s) of ${plan.remove[0]!.vm.name} from ${name}`, key);
        }
      }, deps.store.alert);
    }
    ctx.log('info', `prune of policy ${policy}: ${removed} backup(s) removed`);
    return { state: 'succeeded' };
  };
}

export function gcExecutor(deps: CareJobDeps): JobExecutor {
  return async (ctx) => {
    const { repository } = ctx.job.params as { repository: string };
    return withRepository(deps.store, repository, async (repo) => {
      const report = await runGc(repo, { dryRun: false });
      ctx.log('info', `gc: deleted ${report.packsDeleted} pack(s), repacked ${report.packsRepacked}, freed ${report.bytesFreed} bytes`);
      if (report.deferredBecause) ctx.log('info', `gc: ${report.packsCondemned} pack(s) kept for a later gc: ${report.deferredBecause}`);
      await sampleUsage(deps.store, repository, repo);
      return { state: 'succeeded' };
    }, deps.store.alert);
  };
}

/**
 * What the repository holds now, as one usage sample: stored bytes (its packs), unique chunks,
 * the ratios against what its backups describe (from the catalog's copy of the manifests) and
 * the capacity — the care spec's where given (an S3 quota), else the filesystem's. At the care
 * spec's threshold it raises repository.nearly-full.
 */
export async function sampleUsage(store: JobStore, repository: string, repo: Repository): Promise<void> {
  const packs = await repo.target.list('packs/');
  const storedBytes = packs.reduce((s, p) => s + p.sizeBytes, 0);
  const chunkCount = (await loadChunkTable(repo.target, repo.keys, new Set(), repo.config.repositoryId)).size;
  const { logicalBytes, newBytes } = await store.backupTotals(repository);
  const fullness = await measureFullness(store, repository, repo, storedBytes);
  await store.recordUsage(repository, {
    storedBytes, logicalBytes, chunkCount, capacityBytes: fullness?.capacityBytes ?? null,
    dedupRatio: newBytes > 0 ? logicalBytes / newBytes : 1, compressionRatio: storedBytes > 0 ? newBytes / storedBytes : 1,
  });
  if (fullness && fullness.usedPercent >= fullness.thresholdPercent) {
    store.alert({
      kind: 'repository.nearly-full', key: repository, severity: 'warning', timeMs: store.nowMs(),
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

async function measureFullness(store: JobStore, repository: string, repo: Repository, storedBytes: number): Promise<Fullness | null> {
  const { care } = await store.repository(repository);
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
