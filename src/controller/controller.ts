// The controller of `vmbak serve`: opens the catalog and secrets under the data dir, applies
// the config file, and — with a local agent — sweeps what a killed predecessor left on this
// host (libvirt jobs, scratch files, checkpoints) and marks its unfinished jobs interrupted
// before it reports ready. Then it keeps the inventory in step, fires schedules (policies'
// backups, repositories' verify and gc), runs jobs, watches RPOs and hosts and sends alerts
// for what went wrong. Stopping aborts running jobs cleanly.

import { mkdirSync } from 'node:fs';
import { VmbakError, describeError, parseDuration, systemClock, type Clock, type Hypervisor } from '../core/index.ts';
import { hostName } from '../host/index.ts';
import {
  backupFromManifest, dataDirPaths, getJob, getPolicy, listJobVms, listRepositories, loadSecretsBox, markJobsInterrupted,
  openCatalog, pruneClaims, recordAudit, replaceRepositoryBackups, type CatalogJob, type OpenCatalog, type SecretsBox,
} from '../catalog/index.ts';
import { AlertNotifier, type AlertEvent } from '../alerts/index.ts';
import { applyConfig, loadConfigFile } from '../config/index.ts';
import { connectHypervisor, describeLeftover, listRepositoryBackups, sweepLeftovers } from '../services/index.ts';
import type { ControllerApi, JobAction, JobRequest, JobUpdate } from './controller-api.ts';
import { ControllerFiles } from './file-service.ts';
import { JobRunner, type JobExecutor } from './job-runner.ts';
import { backupExecutor, repositoriesWritten, type BackupJobParams } from './backup-job.ts';
import { gcExecutor, verifyExecutor } from './care-jobs.ts';
import { Scheduler, type CareFiringRequest, type FiringRequest } from './scheduler.ts';
import { syncInventory } from './inventory.ts';
import { checkRpo } from './rpo-watch.ts';
import { DEFAULT_HOST_LOST_MS, checkHosts } from './host-watch.ts';
import { repositoryHandles, withRepository } from './repositories.ts';

export interface ControllerLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ControllerOptions {
  readonly dataDir: string;
  readonly configFile?: string;
  /** The catalog's location: a postgres:// URL to share one between controllers (default: SQLite in the data dir). */
  readonly catalog?: string;
  readonly secretsKeyFile?: string;
  /** Runs jobs on this host (the one-box default); without it the controller only schedules and serves. */
  readonly localAgent: boolean;
  readonly streams: number;
  /** Backup jobs writing to one repository at once (default 4); more wait queued. */
  readonly maxWritersPerRepository?: number;
  readonly connect?: string;
  readonly log: ControllerLog;
  readonly clock?: Clock;
  readonly inventoryEveryMs?: number;
  readonly rpoEveryMs?: number;
  /** A host silent this long raises host.lost (default 5 min). */
  readonly hostLostMs?: number;
  readonly schedulerTickMs?: number;
}

export const DEFAULT_MAX_WRITERS_PER_REPOSITORY = 4;

export class Controller implements ControllerApi {
  readonly catalog: OpenCatalog;
  readonly secrets: SecretsBox;
  readonly notifier: AlertNotifier;
  readonly files: ControllerFiles;
  private readonly opts: ControllerOptions;
  private readonly hypervisor: Hypervisor | null;
  private readonly runner: JobRunner;
  private readonly scheduler: Scheduler;
  private readonly timers: NodeJS.Timeout[] = [];
  private ready = false;

  private constructor(opts: ControllerOptions, catalog: OpenCatalog, secrets: SecretsBox, dedupWindowMs: number | undefined) {
    this.opts = opts;
    this.catalog = catalog;
    this.secrets = secrets;
    this.files = new ControllerFiles(catalog, secrets);
    this.notifier = new AlertNotifier({ catalog, box: secrets, dedupWindowMs, onProblem: (m) => opts.log.warn({}, m) });
    this.hypervisor = opts.localAgent ? connectHypervisor({ uri: opts.connect }) : null;
    const executors: Record<string, JobExecutor> = {};
    if (this.hypervisor) {
      const alert = (event: AlertEvent) => this.notifier.notify(event);
      const deps = { catalog, secrets, hypervisor: this.hypervisor, streams: opts.streams, alert };
      executors.backup = backupExecutor(deps);
      executors.verify = verifyExecutor(deps);
      executors.gc = gcExecutor(deps);
    }
    this.runner = new JobRunner({
      catalog, host: hostName(), streams: opts.streams, executors, onFinished: (job) => this.jobFinished(job),
      maxWritersPerRepository: opts.maxWritersPerRepository ?? DEFAULT_MAX_WRITERS_PER_REPOSITORY, clock: opts.clock,
    });
    this.scheduler = new Scheduler({
      catalog, clock: opts.clock ?? systemClock, tickMs: opts.schedulerTickMs,
      fire: (f) => this.fire(f),
      fireCare: (f) => this.fireCare(f),
      onError: (what, err) => opts.log.error({ schedule: what }, `schedule of ${what} failed: ${describeError(err)}`),
    });
  }

  /** Opens the catalog (creating the data dir and secrets key if new) and applies the config file. */
  static async open(opts: ControllerOptions): Promise<Controller> {
    mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
    const paths = dataDirPaths(opts.dataDir);
    const secrets = loadSecretsBox(opts.secretsKeyFile ?? paths.secretsKey, { create: true });
    const loaded = opts.configFile ? await loadConfigFile(opts.configFile) : null;
    const catalog = await openCatalog(opts.catalog ?? paths.catalog, { clock: opts.clock });
    try {
      if (loaded) {
        const report = await applyConfig(catalog, secrets, loaded);
        opts.log.info({ config: opts.configFile, ...report }, 'applied the config file');
      }
    } catch (err) {
      catalog.close();
      throw err;
    }
    return new Controller(opts, catalog, secrets, loaded ? parseDuration(loaded.config.alerts.dedupWindow) ?? undefined : undefined);
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Cleans up after a killed predecessor, then starts scheduling. */
  async start(): Promise<void> {
    const host = hostName();
    if (this.hypervisor) {
      const names = (await listRepositories(this.catalog)).map((r) => r.name);
      const swept = await sweepLeftovers(this.hypervisor, await repositoryHandles(this.catalog, this.secrets, names));
      for (const s of swept) this.opts.log.info({ leftover: s }, describeLeftover(s));
      const interrupted = await markJobsInterrupted(this.catalog, host, 'the controller stopped while it ran');
      if (interrupted.length > 0) this.opts.log.warn({ jobs: interrupted }, `${interrupted.length} job(s) of a previous run marked interrupted`);
      await this.syncInventory().catch((err: unknown) => this.opts.log.error({}, `inventory: ${describeError(err)}`));
      this.every(this.opts.inventoryEveryMs ?? 60_000, () => this.syncInventory());
    }
    await this.scheduler.reload();
    this.scheduler.start();
    this.every(this.opts.rpoEveryMs ?? 30_000, () => checkRpo(this.catalog, this.notifier));
    this.every(Math.min(60_000, this.opts.hostLostMs ?? DEFAULT_HOST_LOST_MS), () => checkHosts(this.catalog, this.notifier, this.opts.hostLostMs));
    // Claims only guard against running a firing twice: a week of them is plenty.
    this.every(3_600_000, () => pruneClaims(this.catalog, this.catalog.clock.nowMs() - 7 * 86_400_000));
    this.ready = true;
    this.opts.log.info({ host, localAgent: this.hypervisor !== null, streams: this.opts.streams }, 'controller ready');
  }

  /** Graceful stop: no new firings, running jobs aborted and cleaned up, alerts flushed. */
  async stop(reason = 'the controller is stopping'): Promise<void> {
    this.ready = false;
    this.scheduler.stop();
    for (const t of this.timers) clearInterval(t);
    await this.runner.stop(reason);
    await this.files.close();
    await this.notifier.drain().catch(() => {});
    await this.notifier.close();
    this.catalog.close();
  }

  async submitJob(request: JobRequest, actor: string): Promise<CatalogJob> {
    if (!this.hypervisor) throw new VmbakError('JOB_NOT_RUNNING', { jobId: 'new', op: 'run', detail: 'this controller runs no local agent' });
    const { kind, ...params } = request;
    if ('policy' in params && params.policy && !(await getPolicy(this.catalog, params.policy))) {
      throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: params.policy });
    }
    const job = await this.runner.submit({ kind, policy: 'policy' in params ? params.policy ?? null : null, trigger: 'manual', params }, await this.writesOf(kind, params));
    await recordAudit(this.catalog, actor, `job.${kind}`, job.id, params);
    return job;
  }

  async controlJob(jobId: string, action: JobAction, actor: string): Promise<CatalogJob> {
    const job = await this.runner.control(jobId, action);
    await recordAudit(this.catalog, actor, `job.${action}`, jobId);
    return job;
  }

  async retryJob(jobId: string, actor: string): Promise<CatalogJob> {
    const job = await getJob(this.catalog, jobId);
    if (!job) throw new VmbakError('JOB_NOT_FOUND', { jobId });
    if (!['failed', 'warning', 'aborted', 'interrupted'].includes(job.state)) {
      throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: 'retried', detail: `it is ${job.state}` });
    }
    const params = { ...job.params, retryOf: jobId } as Record<string, unknown>;
    if (job.kind === 'backup') {
      const failed = (await listJobVms(this.catalog, jobId)).filter((v) => v.state === 'failed' || v.state === 'interrupted');
      if (failed.length > 0) params.vms = failed.map((v) => v.vmKey);
    }
    const retry = await this.runner.submit({ kind: job.kind, policy: job.policy, trigger: 'retry', params }, await this.writesOf(job.kind, params));
    await recordAudit(this.catalog, actor, 'job.retry', jobId, { retry: retry.id });
    return retry;
  }

  subscribe(listener: (update: JobUpdate) => void): () => void {
    return this.runner.subscribe(listener);
  }

  async syncInventory(): Promise<void> {
    if (!this.hypervisor) return;
    const result = await syncInventory(this.catalog, this.hypervisor);
    for (const c of result.conflicts) this.opts.log.warn({}, c);
  }

  async rebuildBackups(repository?: string): Promise<{ added: number; removed: number }> {
    const names = repository ? [repository] : (await listRepositories(this.catalog)).map((r) => r.name);
    let added = 0;
    let removed = 0;
    for (const name of names) {
      const listing = await withRepository(this.catalog, this.secrets, name, (repo) => listRepositoryBackups(repo));
      const r = await replaceRepositoryBackups(this.catalog, name, listing.backups.map((m) => backupFromManifest(name, m)));
      // The file indexes ride along: a catalog rebuilt from the repositories searches as before.
      await this.files.syncIndexes(name);
      added += r.added;
      removed += r.removed;
    }
    return { added, removed };
  }

  async reloadPolicies(): Promise<void> {
    await this.scheduler.reload();
    await this.syncInventory();
  }

  async nextRuns(policy: string, count: number): Promise<number[]> {
    const p = await getPolicy(this.catalog, policy);
    if (!p) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: policy });
    return this.scheduler.nextRuns(p.spec, count);
  }

  private async fire(f: FiringRequest): Promise<string> {
    const params = { policy: f.policy, fireMs: f.fireMs, notAfterMs: f.notAfterMs, atEnd: f.atEnd, resumeAtMs: f.resumeAtMs };
    const job = await this.runner.submit({ kind: 'backup', policy: f.policy, trigger: 'schedule', params }, await this.writesOf('backup', params));
    this.opts.log.info({ policy: f.policy, job: job.id, fireMs: f.fireMs }, `policy ${f.policy} fired`);
    return job.id;
  }

  private async fireCare(f: CareFiringRequest): Promise<string> {
    const params = f.task === 'gc' ? { repository: f.repository } : { repository: f.repository, scope: f.task === 'verifyNew' ? 'new' : 'all' };
    const job = await this.runner.submit({ kind: f.task === 'gc' ? 'gc' : 'verify', policy: null, trigger: 'schedule', params });
    this.opts.log.info({ repository: f.repository, task: f.task, job: job.id, fireMs: f.fireMs }, `${f.task} of repository ${f.repository} fired`);
    return job.id;
  }

  /** The repositories a backup job writes to, for the writer limit (other kinds: none). */
  private async writesOf(kind: string, request: object): Promise<{ writes: string[] }> {
    if (kind !== 'backup') return { writes: [] };
    const params = request as BackupJobParams;
    const spec = params.policy ? (await getPolicy(this.catalog, params.policy))?.spec : undefined;
    return { writes: repositoriesWritten(spec, params) };
  }

  private jobFinished(job: CatalogJob): void {
    this.opts.log.info({ job: job.id, kind: job.kind, state: job.state, error: job.error }, `job ${job.id} ${job.state}`);
    const what = job.policy ? `policy ${job.policy}` : `${job.kind} job`;
    const kind = job.state === 'failed'
      ? (job.kind === 'verify' ? 'verify.failed' : job.kind === 'gc' ? 'gc.failed' : 'job.failed')
      : job.state === 'warning' ? 'job.warning' : null;
    if (!kind) return;
    this.notifier.notify({
      kind, key: `${job.kind}:${job.policy ?? String(job.params.repository ?? '')}`, severity: job.state === 'failed' ? 'error' : 'warning',
      timeMs: job.finishedMs ?? Date.now(), message: `${what}: job ${job.id} ${job.state}${job.error ? `: ${job.error}` : ''}`,
      data: { jobId: job.id, kind: job.kind, policy: job.policy, state: job.state, error: job.error },
    });
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    const t = setInterval(() => { fn().catch((err: unknown) => this.opts.log.error({}, describeError(err))); }, ms);
    t.unref();
    this.timers.push(t);
  }
}
