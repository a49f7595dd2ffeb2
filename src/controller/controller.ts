// The controller of `vmbak serve`: opens the catalog and secrets under the data dir, applies
// the config file, and — with a local agent — sweeps what a killed predecessor left on this
// host (libvirt jobs, scratch files, checkpoints) and marks its unfinished jobs interrupted
// before it reports ready. Then it keeps the inventory in step, fires schedules (policies'
// backups, repositories' verify and gc), runs jobs, watches RPOs and hosts and sends alerts
// for what went wrong. Stopping aborts running jobs cleanly.

import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { VmbakError, describeError, parseDuration, systemClock, type Clock, type Hypervisor, type StoragePool, type VmInfo } from '../core/index.ts';
import { defaultStateDir, hostName } from '../host/index.ts';
import {
  CARE_TASKS, activePolicyJob, deleteJobsBefore, appendJobEvent, backupFromManifest, forgetBackups, getBackup, dataDirPaths, getJob, getPolicy, listJobVms, listRepositories, loadSecretsBox, markJobsInterrupted,
  defaultClaimant, listHosts, openCatalog, requestJobControl, takeJobControls, pruneClaims, recordAudit, recordHostSeen, recordHostStreams, replaceRepositoryBackups, setJobProgress, setJobState,
  type CatalogJob, type JobKind, type JobTrigger, type OpenCatalog, type SecretsBox,
} from '../catalog/index.ts';
import { AlertNotifier, type AlertEvent } from '../alerts/index.ts';
import { applyConfig, loadConfigFile } from '../config/index.ts';
import {
  connectHypervisor, describeInstantLeftover, describeLeftover, executeRepositoryPrune, listRepositoryBackups, resolveBackupRef, sweepInstantLeftovers, sweepLeftovers,
} from '../services/index.ts';
import { ControllerFiles } from './file-service.ts';
import type { AgentControl, AgentRegistration, AgentReport, CareRun, ControllerApi, ControllerInfo, JobAction, JobRequest, JobUpdate } from './controller-api.ts';
import { JobRunner, type JobExecutor, type JobOutcome } from './job-runner.ts';
import { backupExecutor, repositoriesWritten, type BackupJobParams } from './backup-job.ts';
import { gcExecutor, pruneExecutor, verifyExecutor } from './care-jobs.ts';
import { restoreExecutor } from './restore-job.ts';
import { indexExecutor } from './index-job.ts';
import { Scheduler, type CareFiringRequest, type FiringRequest } from './scheduler.ts';
import { recordInventory, syncInventory } from './inventory.ts';
import { checkRpo } from './rpo-watch.ts';
import { checkInstantVms } from './instant-watch.ts';
import { DEFAULT_HOST_LOST_MS, checkHosts } from './host-watch.ts';
import { repositoryHandles, withRepository } from './repositories.ts';
import { CARE_QUEUE, RemoteJobs, hostQueueName } from './remote-jobs.ts';
import { placeVms } from './placement.ts';
import { catalogJobStore, type JobStore } from './job-store.ts';

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
  /** Redis (redis://…) for agents on the hosts: jobs go to their queues instead of a local agent. */
  readonly redis?: string;
  readonly rpoEveryMs?: number;
  /** A host silent this long raises host.lost (default 5 min). */
  readonly hostLostMs?: number;
  /** Finished jobs older than this many days are deleted with their logs (default 180). */
  readonly jobHistoryDays?: number;
  readonly schedulerTickMs?: number;
}

export const DEFAULT_MAX_WRITERS_PER_REPOSITORY = 4;

/** Jobs the controller keeps with agents at once (each agent limits itself to its streams). */
const REMOTE_JOBS_IN_FLIGHT = 10_000;


export class Controller implements ControllerApi {
  readonly catalog: OpenCatalog;
  readonly secrets: SecretsBox;
  readonly notifier: AlertNotifier;
  /** What jobs read and record, on the catalog (the local agent's; remote agents reach it through the API). */
  readonly store: JobStore;
  readonly files: ControllerFiles;
  readonly downloadsDir: string | null;
  private readonly opts: ControllerOptions;
  private readonly hypervisor: Hypervisor | null;
  private readonly remote: RemoteJobs | null;
  private readonly runner: JobRunner;
  private readonly scheduler: Scheduler;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Each agent's streams (from the catalog: an agent may have registered with another controller). */
  private hostStreams = new Map<string, number>();
  private ready = false;
  private readonly startedMs = Date.now();

  private constructor(opts: ControllerOptions, catalog: OpenCatalog, secrets: SecretsBox, dedupWindowMs: number | undefined) {
    this.opts = opts;
    this.catalog = catalog;
    this.secrets = secrets;
    this.notifier = new AlertNotifier({ catalog, box: secrets, dedupWindowMs, onProblem: (m) => opts.log.warn({}, m) });
    this.store = catalogJobStore(catalog, secrets, (event: AlertEvent) => this.notifier.notify(event));
    this.files = new ControllerFiles(catalog, this.store);
    // Only a local agent restores where this process can read: remote agents write on their hosts.
    this.downloadsDir = opts.localAgent || opts.redis ? join(opts.dataDir, 'downloads') : null;
    if (opts.redis && opts.localAgent) {
      throw new VmbakError('USAGE', { detail: '--redis hands jobs to `vmbak agent` on each host (this one too): add --no-local-agent' });
    }
    this.hypervisor = opts.localAgent ? connectHypervisor({ uri: opts.connect }) : null;
    this.remote = opts.redis ? new RemoteJobs({ redisUrl: opts.redis }) : null;
    const executors: Record<string, JobExecutor> = {};
    if (this.remote) {
      executors.backup = this.remote.executor('host');
      executors.verify = this.remote.executor('care');
      executors.gc = this.remote.executor('care');
      executors.prune = this.remote.executor('care');
      // Downloads are restored here, into the controller's downloads directory, for the browser.
      const onHost = this.remote.executor('host');
      const here = restoreExecutor({ store: this.store, hypervisor: null });
      executors.restore = (ctx) => (ctx.job.params.download === true ? here(ctx) : onHost(ctx));
      executors.index = this.remote.executor('care');
    }
    if (this.hypervisor) {
      const deps = { store: this.store, hypervisor: this.hypervisor, streams: opts.streams };
      executors.backup = backupExecutor(deps);
      executors.verify = verifyExecutor(deps);
      executors.gc = gcExecutor(deps);
      executors.prune = pruneExecutor(deps);
      executors.restore = restoreExecutor(deps);
      executors.index = indexExecutor(deps);
    }
    this.runner = new JobRunner({
      // Remote jobs count against their agents' streams, not this process's.
      catalog, host: hostName(), streams: this.remote ? REMOTE_JOBS_IN_FLIGHT : opts.streams, executors, onFinished: (job) => this.jobFinished(job),
      maxWritersPerRepository: opts.maxWritersPerRepository ?? DEFAULT_MAX_WRITERS_PER_REPOSITORY, clock: opts.clock,
      holder: defaultClaimant(), hostLimit: (host) => (host ? this.hostStreams.get(host) ?? null : null),
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
      const swept = await sweepLeftovers(this.hypervisor, await repositoryHandles(this.store, names));
      for (const s of swept) this.opts.log.info({ leftover: s }, describeLeftover(s));
      for (const s of await sweepInstantLeftovers(this.hypervisor, defaultStateDir())) this.opts.log.info({ instant: s }, describeInstantLeftover(s));
      const interrupted = await markJobsInterrupted(this.catalog, host, 'the controller stopped while it ran');
      if (interrupted.length > 0) this.opts.log.warn({ jobs: interrupted }, `${interrupted.length} job(s) of a previous run marked interrupted`);
      await this.syncInventory().catch((err: unknown) => this.opts.log.error({}, `inventory: ${describeError(err)}`));
      this.every(this.opts.inventoryEveryMs ?? 60_000, () => this.syncInventory());
    }
    if (this.remote) {
      await this.loadHostStreams();
      this.every(30_000, () => this.loadHostStreams());
    }
    await this.scheduler.reload();
    this.scheduler.start();
    this.every(this.opts.rpoEveryMs ?? 30_000, () => checkRpo(this.catalog, this.notifier));
    const hypervisor = this.hypervisor;
    if (hypervisor) this.every(this.opts.rpoEveryMs ?? 30_000, () => checkInstantVms(hypervisor, defaultStateDir(), this.notifier, this.catalog.clock.nowMs()));
    this.every(Math.min(60_000, this.opts.hostLostMs ?? DEFAULT_HOST_LOST_MS), () => checkHosts(this.catalog, this.notifier, this.opts.hostLostMs));
    // The job history would otherwise grow for ever (a job and its log lines are a few KiB per VM backed up).
    const historyMs = (this.opts.jobHistoryDays ?? 180) * 86_400_000;
    this.every(3_600_000, () => deleteJobsBefore(this.catalog, this.catalog.clock.nowMs() - historyMs));
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
    await this.remote?.close();
    await this.files.close();
    await this.notifier.drain().catch(() => {});
    await this.notifier.close();
    this.catalog.close();
  }

  async submitJob(request: JobRequest, actor: string): Promise<CatalogJob> {
    if (!this.hypervisor && !this.remote) throw new VmbakError('JOB_NOT_RUNNING', { jobId: 'new', op: 'run', detail: 'this controller runs no local agent and has no agents (--redis)' });
    const { kind, ...params } = request;
    if ('policy' in params && params.policy && !(await getPolicy(this.catalog, params.policy))) {
      throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: params.policy });
    }
    const policy = 'policy' in params ? params.policy ?? null : null;
    const [job] = await this.submit(kind, policy, 'manual', params);
    await recordAudit(this.catalog, actor, `job.${kind}`, job!.id, params);
    return job!;
  }

  /**
   * Queues a job. With agents, a backup becomes one job per host that runs some of its VMs
   * (as the inventory last placed them), each for that host's queue; the first comes back first.
   */
  private async submit(kind: JobKind, policy: string | null, trigger: JobTrigger, params: Record<string, unknown>): Promise<CatalogJob[]> {
    const writes = await this.writesOf(kind, params);
    if (kind === 'prune') params = { ...params, vmKeys: await this.policyVmKeys(policy!) };
    if (kind === 'restore' && !this.remote && typeof params.host === 'string' && params.host !== hostName()) {
      throw new VmbakError('USAGE', { detail: `this controller restores on its own host (${hostName()}); restoring on ${params.host} needs an agent there (vmbak serve --redis, vmbak agent)` });
    }
    if (kind === 'restore' && this.remote) {
      const host = params.download === true ? hostName() : await this.restoreHost(params);
      return [await this.runner.submit({ kind, policy, trigger, params, host }, writes)];
    }
    const overlap = async (host: string | null) => (trigger === 'schedule' && kind === 'backup' && policy ? this.stillRunning(policy, host, params.fireMs) : null);
    if (!this.remote || kind !== 'backup') return [await overlap(null) ?? await this.runner.submit({ kind, policy, trigger, params }, writes)];
    const spec = policy ? (await getPolicy(this.catalog, policy))?.spec : undefined;
    const byHost = await placeVms(this.catalog, (params as BackupJobParams).vms ?? spec?.vms ?? []);
    if (byHost.size === 0) return [await this.runner.submit({ kind, policy, trigger, params, host: null }, writes)];
    const jobs: CatalogJob[] = [];
    for (const [host, vms] of byHost) jobs.push(await overlap(host) ?? await this.runner.submit({ kind, policy, trigger, params: { ...params, vms }, host }, writes));
    return jobs;
  }

  async controlJob(jobId: string, action: JobAction, actor: string): Promise<CatalogJob> {
    const job = this.runner.holds(jobId) ? await this.runner.control(jobId, action) : await this.requestControl(jobId, action);
    await recordAudit(this.catalog, actor, `job.${action}`, jobId);
    return job;
  }

  /**
   * A job another controller holds (two controllers share the catalog), or one whose agent
   * reports here after its controller died: the request waits in the catalog for whichever
   * of them hears from the job next.
   */
  private async requestControl(jobId: string, action: JobAction): Promise<CatalogJob> {
    const job = await getJob(this.catalog, jobId);
    if (!job) throw new VmbakError('JOB_NOT_FOUND', { jobId });
    const allowed = action === 'abort' ? ['queued', 'running', 'paused'] : action === 'pause' ? ['running'] : ['paused'];
    if (!this.remote || !allowed.includes(job.state)) throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: `${action}d`, detail: `it is ${job.state}` });
    await requestJobControl(this.catalog, jobId, action, defaultClaimant());
    void appendJobEvent(this.catalog, jobId, 'info', `${action} requested through another controller`).catch(() => {});
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
    const retry = await this.runner.submit({ kind: job.kind, policy: job.policy, trigger: 'retry', params, host: job.host }, await this.writesOf(job.kind, params));
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

  async deleteBackup(repository: string, backupId: string, opts: { readonly catalogOnly: boolean }): Promise<void> {
    if (!(await getBackup(this.catalog, repository, backupId))) throw new VmbakError('BACKUP_NOT_FOUND', { backupId, repo: repository });
    if (!opts.catalogOnly) {
      await withRepository(this.store, repository, async (repo) => {
        const manifest = await resolveBackupRef(repo, backupId);
        await executeRepositoryPrune(repo, { keep: [], remove: [manifest] });
      }, this.store.alert);
    }
    await forgetBackups(this.catalog, repository, [backupId]);
  }

  async rebuildBackups(repository?: string): Promise<{ added: number; removed: number }> {
    const names = repository ? [repository] : (await listRepositories(this.catalog)).map((r) => r.name);
    let added = 0;
    let removed = 0;
    for (const name of names) {
      const listing = await withRepository(this.store, name, (repo) => listRepositoryBackups(repo));
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

  info(): ControllerInfo {
    return {
      dataDir: this.opts.dataDir, catalogLocation: this.catalog.location, catalogKind: /^postgres(ql)?:/i.test(this.catalog.location) ? 'postgres' : 'sqlite',
      localAgent: this.hypervisor !== null, remoteAgents: this.remote !== null, streams: this.opts.streams, startedMs: this.startedMs,
    };
  }

  async careSchedule(): Promise<CareRun[]> {
    return (await listRepositories(this.catalog)).flatMap((r) => CARE_TASKS.map((task) => ({
      repository: r.name, task, schedule: r.care[task], timezone: r.care.timezone ?? null, nextMs: this.scheduler.nextCareRun(r.care[task], r.care.timezone),
    })));
  }

  private async fire(f: FiringRequest): Promise<string> {
    const params = { policy: f.policy, fireMs: f.fireMs, notAfterMs: f.notAfterMs, atEnd: f.atEnd, resumeAtMs: f.resumeAtMs };
    const jobs = await this.submit('backup', f.policy, 'schedule', params);
    this.opts.log.info({ policy: f.policy, jobs: jobs.map((j) => j.id), fireMs: f.fireMs }, `policy ${f.policy} fired`);
    return jobs[0]!.id;
  }

  /**
   * A scheduled backup for a host where the policy's previous run has not finished yet: that
   * run is still reading the same VMs (a second backup of a VM at once would fight over its
   * hypervisor backup job and checkpoints), so this firing is left out there and says so in
   * the running job's log — the way a schedule that outpaces its backups degrades gracefully.
   */
  private async stillRunning(policy: string, host: string | null, fireMs: unknown): Promise<CatalogJob | null> {
    const running = await activePolicyJob(this.catalog, 'backup', policy, host);
    if (!running) return null;
    const at = typeof fireMs === 'number' ? new Date(fireMs).toISOString() : 'now';
    await appendJobEvent(this.catalog, running.id, 'warning', `the firing of ${at} was skipped${host ? ` on ${host}` : ''}: this run has not finished`).catch(() => {});
    this.opts.log.warn({ policy, host, job: running.id }, `policy ${policy}: a firing skipped${host ? ` on ${host}` : ''}, job ${running.id} still runs`);
    return running;
  }

  private async fireCare(f: CareFiringRequest): Promise<string> {
    const params = f.task === 'gc' ? { repository: f.repository } : { repository: f.repository, scope: f.task === 'verifyNew' ? 'new' : 'all' };
    const [job] = await this.submit(f.task === 'gc' ? 'gc' : 'verify', null, 'schedule', params);
    this.opts.log.info({ repository: f.repository, task: f.task, job: job!.id, fireMs: f.fireMs }, `${f.task} of repository ${f.repository} fired`);
    return job!.id;
  }

  /** The VMs a policy selects in the inventory now: a prune job applies its retention to their backups. */
  private async policyVmKeys(policy: string): Promise<string[]> {
    const spec = (await getPolicy(this.catalog, policy))?.spec;
    if (!spec) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: policy });
    return [...(await placeVms(this.catalog, spec.vms)).values()].flat();
  }

  /** Where a restore runs with agents: the host named, else the one the backup was made on. */
  private async restoreHost(params: Record<string, unknown>): Promise<string | null> {
    if (typeof params.host === 'string') return params.host;
    const backup = await getBackup(this.catalog, String(params.repository), String(params.backup));
    return backup?.host ?? null;
  }

  /** The repositories a backup job writes to, for the writer limit (other kinds: none). */
  private async writesOf(kind: string, request: object): Promise<{ writes: string[] }> {
    if (kind !== 'backup') return { writes: [] };
    const params = request as BackupJobParams;
    const spec = params.policy ? (await getPolicy(this.catalog, params.policy))?.spec : undefined;
    return { writes: repositoriesWritten(spec, params) };
  }

  // What agents on the hosts call (through the API's agent routes).

  async agentRegister(host: string, uri: string | null, streams: number | null = null): Promise<AgentRegistration> {
    if (!this.remote) throw new VmbakError('JOB_NOT_RUNNING', { jobId: 'agent', op: 'registered', detail: 'this controller takes no agents: start it with --redis' });
    await recordHostSeen(this.catalog, host, uri);
    await recordHostStreams(this.catalog, host, streams);
    if (streams) this.hostStreams.set(host, streams);
    else this.hostStreams.delete(host);
    const repositories = (await listRepositories(this.catalog)).map((r) => r.name);
    const redis = await this.remote.agentRedisUrl(host);
    if (!redis.restricted) this.opts.log.warn({ host }, `agent ${host} gets the controller's Redis account: no user of its own could be made (${redis.why})`);
    else if (redis.why) this.opts.log.warn({ host }, `agent ${host}: ${redis.why}`);
    return { redisUrl: redis.url, queue: hostQueueName(host), careQueue: CARE_QUEUE, repositories };
  }

  async agentInventory(host: string, uri: string | null, vms: readonly VmInfo[], pools?: readonly StoragePool[]): Promise<void> {
    const result = await recordInventory(this.catalog, host, uri, vms, pools);
    for (const c of result.conflicts) this.opts.log.warn({ host }, c);
  }

  async agentReport(jobId: string, report: AgentReport): Promise<AgentControl> {
    const control = this.remote?.report(jobId, report);
    if (control) return control;
    // A job this controller does not hold (it restarted while the agent ran on, or the job's
    // controller died): keep the record, and answer what was asked through the API.
    for (const line of report.log ?? []) await appendJobEvent(this.catalog, jobId, line.level, line.message, line.vmKey ?? null).catch(() => {});
    if (report.progress) await setJobProgress(this.catalog, jobId, report.progress.bytesRead, report.progress.bytesStored).catch(() => {});
    const requested = (await takeJobControls(this.catalog, [jobId])).get(jobId);
    if (requested === 'abort') {
      // Kept until the agent's final word: a lost answer is asked again with the next report.
      await requestJobControl(this.catalog, jobId, 'abort', defaultClaimant());
      return { abort: true, paused: false };
    }
    if (requested) await setJobState(this.catalog, jobId, requested === 'pause' ? 'paused' : 'running').catch(() => null);
    return { abort: false, paused: (await getJob(this.catalog, jobId))?.state === 'paused' };
  }

  async agentFinish(jobId: string, outcome: JobOutcome): Promise<void> {
    if (this.remote?.finish(jobId, outcome)) return;
    await takeJobControls(this.catalog, [jobId]).catch(() => {});
    const job = await setJobState(this.catalog, jobId, outcome.state, outcome.error ?? null).catch(() => null);
    if (job) this.jobFinished(job);
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

  private async loadHostStreams(): Promise<void> {
    const streams = new Map<string, number>();
    for (const h of await listHosts(this.catalog)) if (h.streams) streams.set(h.name, h.streams);
    this.hostStreams = streams;
  }

  private every(ms: number, fn: () => Promise<unknown>): void {
    const t = setInterval(() => { fn().catch((err: unknown) => this.opts.log.error({}, describeError(err))); }, ms);
    t.unref();
    this.timers.push(t);
  }
}
