// One `vmbak backup` run: many VMs, a limited number of parallel streams, each VM into the
// first repository that takes it (in listed order, or its spread order), retrying a failing
// target with backoff before failing over to the next. Failing over means a full read into
// that repository (dedup against what it holds), and the outcome says so. One VM failing does
// not stop the others.

import { VmbakError, describeError, type BackupSession } from '../core/index.ts';
import { latestBackupOf, type Manifest, type Repository } from '../repository/index.ts';
import { backupVm, type VmIdentity } from './backup-vm.ts';
import { WorkerPool } from './worker-pool.ts';
import { runLimited } from './backup-disk.ts';
import { targetOrder } from './target-choice.ts';
import { FanOutCopy, type CopyOutcome } from './fan-out.ts';
import type { ProgressCounters } from './progress.ts';
import type { PauseGate } from './pause-gate.ts';

export interface VmJob {
  readonly vm: VmIdentity;
  readonly source: Manifest['source'];
  /** Opens the VM's consistent point in time; sinceCheckpoint is where this repository's chain ends. */
  openSession(sinceCheckpoint: string | null): Promise<BackupSession>;
  /**
   * True when the session does not depend on sinceCheckpoint (image files): it is then opened
   * while the first repository opens, and key derivation and qemu-nbd's start overlap.
   */
  readonly chainFree?: boolean;
}

/** A repository location, opened on first use (opening a dead target is itself a failover case). */
export interface RepoHandle {
  readonly location: string;
  open(): Promise<Repository>;
}

export interface VmOutcome {
  readonly vm: VmIdentity;
  readonly manifest: Manifest | null;
  readonly repo: string | null;
  readonly error: VmbakError | null;
  /** What happened on the way: retries, failovers. */
  readonly events: string[];
  /** One per --copy-to repository, when the primary backup was recorded. */
  readonly copies: CopyOutcome[];
}

export interface BackupRunOptions {
  readonly targets: readonly RepoHandle[];
  readonly spread: boolean;
  readonly parallelStreams: number;
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
  readonly retries?: number;
  readonly retryDelayMs?: number;
  readonly onOutcome?: (outcome: VmOutcome) => void;
  /** Pauses reading (and the start of further VMs) while paused. */
  readonly gate?: PauseGate;
  /** Repositories that get the same backup from the same reads (backup --copy-to). */
  readonly copyTargets?: readonly RepoHandle[];
  /** Read image files even when unchanged by their facts (backup --force-read). */
  readonly forceRead?: boolean;
  /** Backups never to build an incremental on (their verify failed): a VM whose latest is one is read whole. */
  readonly distrustedBases?: ReadonlySet<string>;
}

export async function runBackups(jobs: readonly VmJob[], opts: BackupRunOptions): Promise<VmOutcome[]> {
  const repos = new Map<string, Promise<Repository>>();
  const pools = new Map<string, WorkerPool>();
  const openRepo = (h: RepoHandle): Promise<Repository> => {
    let p = repos.get(h.location);
    if (!p) {
      p = h.open();
      p.catch(() => repos.delete(h.location));
      repos.set(h.location, p);
    }
    return p;
  };
  const poolFor = (repo: Repository): WorkerPool => {
    let pool = pools.get(repo.config.repositoryId);
    if (!pool) pools.set(repo.config.repositoryId, pool = WorkerPool.forRepository(repo));
    return pool;
  };
  const outcomes: VmOutcome[] = [];
  try {
    await runLimited(jobs, Math.max(1, opts.parallelStreams), opts.signal, async (job) => {
      const outcome = await backupWithFailover(job, opts, openRepo, poolFor);
      outcomes.push(outcome);
      opts.onOutcome?.(outcome);
    });
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    for (const p of repos.values()) await p.then((r) => r.target.close(), () => {});
  }
  return outcomes;
}

async function backupWithFailover(job: VmJob, opts: BackupRunOptions, openRepo: (h: RepoHandle) => Promise<Repository>, poolFor: (r: Repository) => WorkerPool): Promise<VmOutcome> {
  const events: string[] = [];
  let lastError: VmbakError | null = null;
  const order = targetOrder(job.vm.key, opts.targets, opts.spread);
  let early = job.chainFree && !opts.gate?.paused ? job.openSession(null) : null;
  early?.catch(() => {}); // settled by whoever takes it
  for (const [rank, handle] of order.entries()) {
    const attempts = 1 + (opts.retries ?? 2);
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (opts.signal.aborted) return { vm: job.vm, manifest: null, repo: null, error: asVmbakError(opts.signal.reason), events, copies: [] };
      const opened = early;
      early = null;
      try {
        const repo = await openRepo(handle).catch(async (err: unknown) => {
          await abandonSession(opened);
          throw err;
        });
        const { manifest, copies } = await backupInto(job, repo, poolFor(repo), opts, openRepo, poolFor, opened);
        if (rank > 0) events.push(`backed up to ${handle.location} after ${order.slice(0, rank).map((h) => h.location).join(', ')} failed`);
        for (const c of copies) if (!c.ok) events.push(`copy to ${c.repo} failed: ${c.error}`);
        return { vm: job.vm, manifest, repo: repo.displayUrl, error: null, events, copies };
      } catch (err) {
        lastError = asVmbakError(err);
        if (!isTargetFailure(lastError) || opts.signal.aborted) return { vm: job.vm, manifest: null, repo: handle.location, error: lastError, events, copies: [] };
        // A full target stays full for a while: fail over at once instead of retrying.
        if (!lastError.retryable || lastError.code === 'TARGET_FULL' || attempt === attempts) {
          events.push(`${handle.location} failed: ${lastError.message}`);
          break;
        }
        events.push(`${handle.location} failed (attempt ${attempt} of ${attempts}), retrying: ${lastError.message}`);
        await delay((opts.retryDelayMs ?? 1000) * 2 ** (attempt - 1), opts.signal);
      }
    }
  }
  return { vm: job.vm, manifest: null, repo: null, error: lastError, events, copies: [] };
}

async function backupInto(
  job: VmJob, repo: Repository, pool: WorkerPool, opts: BackupRunOptions,
  openRepo: (h: RepoHandle) => Promise<Repository>, poolFor: (r: Repository) => WorkerPool,
  opened: Promise<BackupSession> | null,
): Promise<{ manifest: Manifest; copies: CopyOutcome[] }> {
  let session: BackupSession;
  try {
    await opts.gate?.wait(opts.signal);
    session = await (opened ?? job.openSession((await latestBackupOf(repo, job.vm.key))?.checkpointId ?? null));
  } catch (err) {
    await abandonSession(opened);
    throw err;
  }
  const copies = (opts.copyTargets ?? []).map((h) => new FanOutCopy(h.location, async () => {
    const r = await openRepo(h);
    return { repo: r, pool: poolFor(r) };
  }));
  let manifest: Manifest;
  try {
    manifest = await backupVm({ repo, vm: job.vm, source: job.source, session, pool, signal: opts.signal, progress: opts.progress, gate: opts.gate, copies, forceRead: opts.forceRead, distrustedBases: opts.distrustedBases });
  } catch (err) {
    await Promise.all(copies.map((c) => c.release()));
    await session.abort().catch(() => {});
    throw err;
  }
  // The copies finish while the session is still open: they may read what the primary did not.
  const outcomes = await Promise.all(copies.map((c) => c.complete(manifest, session)));
  await session.finish();
  return { manifest, copies: outcomes };
}

async function abandonSession(session: Promise<BackupSession> | null): Promise<void> {
  await session?.then((s) => s.abort(), () => {}).catch(() => {});
}

/** Failures of the repository's storage, which another target may not have. */
function isTargetFailure(err: VmbakError): boolean {
  return err.code.startsWith('TARGET_') || err.code === 'OBJECT_MISSING' || err.code === 'REPO_NOT_FOUND' || err.code === 'BUCKET_MISSING';
}

function asVmbakError(err: unknown): VmbakError {
  return err instanceof VmbakError ? err : new VmbakError('INTERNAL', { detail: describeError(err) }, { cause: err });
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
