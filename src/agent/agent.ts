// `vmbak agent`: the worker on one hypervisor host. It registers with the controller, sweeps
// what a killed predecessor left on this host (libvirt backup jobs, scratch files, stray
// checkpoints) before it takes work, reports the host's inventory every so often (its
// heartbeat in the catalog), and runs the jobs of its host's queue — and care jobs of the
// shared queue — on BullMQ with the same executors the controller's local agent runs. Backup
// data goes from this host straight to the targets; only logs, progress and results go to
// the controller, through its API. BullMQ renews each job's lock while it runs: if this
// process dies, the lock lapses and the job runs again when an agent of this host is back.

import { Worker, type Job } from 'bullmq';
import { describeError, isVmbakError, VmbakError, type Hypervisor } from '../core/index.ts';
import type { CatalogJob, JobEventLevel } from '../catalog/index.ts';
import {
  backupExecutor, gcExecutor, pruneExecutor, repositoryHandles, restoreExecutor, verifyExecutor, indexExecutor,
  type AgentControl, type AgentReport, type JobContext, type JobExecutor, type JobOutcome, type JobStore, type QueuedJob,
} from '../controller/index.ts';
import { PauseGate, newProgress } from '../engine/index.ts';
import { connectHypervisor, describeLeftover, sweepLeftovers } from '../services/index.ts';
import { ControllerClient, type ControllerClientOptions } from './controller-client.ts';
import { remoteJobStore } from './remote-store.ts';

export interface AgentLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AgentOptions {
  readonly controllerUrl: string;
  readonly token: string;
  /** How to reach the controller over HTTPS (a private CA) or, on a trusted network, over plain HTTP. */
  readonly tls?: ControllerClientOptions;
  readonly hostName: string;
  /** libvirt URI (default qemu:///system). */
  readonly connect?: string;
  /** Backup jobs of this host at once. */
  readonly streams: number;
  readonly log: AgentLog;
  readonly inventoryEveryMs?: number;
  readonly reportEveryMs?: number;
  /** How long a job's lock lives without renewal before BullMQ counts it stalled (default 30 s). */
  readonly lockMs?: number;
}

interface Registration {
  readonly redisUrl: string;
  readonly queue: string;
  readonly careQueue: string;
  readonly repositories: readonly string[];
}

export class Agent {
  private readonly opts: AgentOptions;
  private readonly client: ControllerClient;
  private readonly hypervisor: Hypervisor;
  private readonly store: JobStore;
  private readonly executors: Partial<Record<string, JobExecutor>>;
  private readonly running = new Map<string, AbortController>();
  private workers: Worker[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.client = new ControllerClient(opts.controllerUrl, opts.token, opts.tls);
    this.hypervisor = connectHypervisor({ uri: opts.connect });
    this.store = remoteJobStore(this.client, (m) => opts.log.warn({}, m));
    const deps = { store: this.store, hypervisor: this.hypervisor, streams: 1 };
    this.executors = {
      backup: backupExecutor(deps), verify: verifyExecutor(deps), gc: gcExecutor(deps), prune: pruneExecutor(deps), restore: restoreExecutor(deps), index: indexExecutor(deps),
    };
  }

  /** Registers, cleans this host up, reports its inventory and starts taking jobs. */
  async start(): Promise<void> {
    const { opts } = this;
    const reg = await this.client.call<Registration>('POST', `/agent/hosts/${encodeURIComponent(opts.hostName)}/register`, { uri: this.hypervisor.location, streams: opts.streams });
    const handles = await repositoryHandles(this.store, reg.repositories);
    for (const s of await sweepLeftovers(this.hypervisor, handles)) opts.log.info({ leftover: s }, describeLeftover(s));
    await this.reportInventory();
    this.timer = setInterval(() => {
      this.reportInventory().catch((err: unknown) => opts.log.warn({}, `inventory not reported: ${describeError(err)}`));
    }, opts.inventoryEveryMs ?? 30_000);
    this.timer.unref();
    const connection = { url: reg.redisUrl, maxRetriesPerRequest: null };
    const lockDuration = opts.lockMs ?? 30_000;
    const worker = (queue: string, concurrency: number) => {
      const w = new Worker(queue, (job: Job<QueuedJob>) => this.run(job), { connection, concurrency, lockDuration, stalledInterval: lockDuration, maxStalledCount: 2 });
      w.on('error', (err) => opts.log.warn({ queue }, `queue ${queue}: ${describeError(err)}`));
      return w;
    };
    this.workers = [worker(reg.queue, opts.streams), worker(reg.careQueue, 1)];
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    opts.log.info({ queue: reg.queue, streams: opts.streams }, 'agent ready');
  }

  /** Stops taking jobs, aborts the running ones (each cleans up the hypervisor) and disconnects. */
  async stop(reason: string): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    for (const abort of this.running.values()) abort.abort(new VmbakError('ABORTED', { signal: reason }));
    await Promise.all(this.workers.map((w) => w.close()));
  }

  /**
   * The job's last lines and its outcome, delivered even if the controller is away for a
   * while (restarting): the work is done and must not run again, so this waits for it —
   * the job's BullMQ lock stays renewed meanwhile.
   */
  private async deliverFinish(jobId: string, outcome: JobOutcome, report: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await report();
        await this.client.call('POST', `/agent/jobs/${jobId}/finish`, { state: outcome.state, error: outcome.error ?? null });
        return;
      } catch (err) {
        if (!isVmbakError(err, 'CONTROLLER_UNREACHABLE') || this.stopping) throw err;
        if (attempt === 0) this.opts.log.warn({ job: jobId }, `the controller is away; job ${jobId} ${outcome.state}, reporting when it is back`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }

  private async reportInventory(): Promise<void> {
    // Just what VmInfo says: an adapter's own fields (its handle on the domain) stay here.
    const vms = (await this.hypervisor.listVms()).map((vm) => ({
      uuid: vm.uuid, name: vm.name, state: vm.state, host: vm.host, tags: vm.tags,
      disks: vm.disks.map((d) => ({
        target: d.target, device: d.device, path: d.path, format: d.format, sizeBytes: d.sizeBytes,
        skipReason: d.skipReason, unsupportedReason: d.unsupportedReason, changedBlockTracking: d.changedBlockTracking,
      })),
    }));
    // Pools only help a restore pick where disks go: a host whose pools cannot be listed still reports its VMs.
    const pools = await this.hypervisor.listStoragePools().catch(() => undefined);
    await this.client.call('PUT', `/agent/hosts/${encodeURIComponent(this.opts.hostName)}/inventory`, { uri: this.hypervisor.location, vms, pools });
  }

  /** One job from the queue: run its executor, relaying logs and progress, and report how it ended. */
  private async run(queued: Job<QueuedJob>): Promise<JobOutcome> {
    const { job } = queued.data;
    const { log } = this.opts;
    const abort = new AbortController();
    this.running.set(job.id, abort);
    const gate = new PauseGate({
      maxPauseMs: 30 * 60_000,
      onExpire: (ms) => abort.abort(new VmbakError('PAUSE_TOO_LONG', { limit: `${Math.round(ms / 60_000)} min` })),
    });
    const progress = newProgress(Date.now());
    const lines: NonNullable<AgentReport['log']>[number][] = [];
    const ctx: JobContext = {
      job: job as CatalogJob, signal: abort.signal, gate, progress,
      log: (level: JobEventLevel, message: string, vmKey: string | null = null) => { lines.push({ level, message, vmKey }); },
    };
    if (queued.attemptsMade > 0 || (queued.stalledCounter ?? 0) > 0) ctx.log('warning', `running again on ${this.opts.hostName}: an earlier attempt stopped before it finished`);
    else ctx.log('info', `running on ${this.opts.hostName}`);
    log.info({ job: job.id, kind: job.kind }, `job ${job.id} (${job.kind}) started`);
    // Lines leave the buffer only once the controller has them: while it is away they wait.
    const report = async (): Promise<void> => {
      const sent = lines.slice(0, 1000);
      const control = await this.client.call<AgentControl>('POST', `/agent/jobs/${job.id}/report`, {
        log: sent,
        progress: {
          bytesRead: progress.bytesRead, bytesStored: progress.bytesStored, bytesToRead: progress.bytesToRead || null,
          disks: progress.disks.map((d) => ({
            vm: d.vm, disk: d.disk, bytesToRead: d.bytesToRead, bytesRead: d.bytesRead, elapsedMs: (d.finishedMs ?? Date.now()) - d.startedMs, done: d.finishedMs !== null,
          })),
        },
      });
      lines.splice(0, sent.length);
      if (control.abort && !abort.signal.aborted) abort.abort(new VmbakError('ABORTED', { signal: 'the controller' }));
      if (control.paused) gate.pause(); else gate.resume();
    };
    const ticker = setInterval(() => { report().catch((err: unknown) => log.warn({ job: job.id }, `report not delivered: ${describeError(err)}`)); }, this.opts.reportEveryMs ?? 1000);
    let outcome: JobOutcome;
    try {
      const executor = this.executors[job.kind];
      if (!executor) throw new VmbakError('INTERNAL', { detail: `agents do not run ${job.kind} jobs` });
      outcome = await executor(ctx);
    } catch (err) {
      outcome = { state: 'failed', error: abort.signal.aborted ? (abort.signal.reason as Error).message : isVmbakError(err) ? err.message : describeError(err) };
    } finally {
      clearInterval(ticker);
      this.running.delete(job.id);
      gate.resume();
    }
    await this.deliverFinish(job.id, outcome, report);
    log.info({ job: job.id, state: outcome.state }, `job ${job.id} ${outcome.state}`);
    return outcome;
  }
}
