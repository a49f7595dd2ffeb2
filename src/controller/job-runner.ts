// The in-process job queue of one agent: jobs recorded in the catalog (queued → running ⇄
// paused → a final state) run here with at most `streams` at once, each with its own abort
// signal, pause gate and progress counters. Everything a job does is an executor per kind;
// the runner only keeps order, limits, control and the live updates the API streams. A
// queue on Redis (many hosts) will run the same executors; the catalog stays the record.

import { EventEmitter } from 'node:events';
import { VmbakError, describeError, isVmbakError } from '../core/index.ts';
import {
  appendJobEvent, createJob, getJob, setJobProgress, setJobState,
  type Catalog, type CatalogJob, type JobEventLevel, type JobKind, type NewJob,
} from '../catalog/index.ts';
import { PauseGate, newProgress, type ProgressCounters } from '../engine/index.ts';
import type { JobAction, JobUpdate } from './controller-api.ts';

export interface JobContext {
  readonly job: CatalogJob;
  readonly signal: AbortSignal;
  readonly gate: PauseGate;
  readonly progress: ProgressCounters;
  /** A line in the job's log (and in the live stream). */
  log(level: JobEventLevel, message: string, vmKey?: string | null): void;
}

export interface JobOutcome {
  readonly state: 'succeeded' | 'warning' | 'failed';
  readonly error?: string | null;
}

export type JobExecutor = (ctx: JobContext) => Promise<JobOutcome>;

export interface JobRunnerOptions {
  readonly catalog: Catalog;
  readonly host: string;
  readonly streams: number;
  readonly executors: Partial<Record<JobKind, JobExecutor>>;
  /** A pause longer than this aborts the job (a held hypervisor job keeps snapshot space growing). */
  readonly maxPauseMs?: number;
  readonly progressEveryMs?: number;
  /** Called with every finished job (alerts, follow-up work). */
  readonly onFinished?: (job: CatalogJob) => void;
}

interface Running {
  readonly abort: AbortController;
  readonly gate: PauseGate;
  readonly progress: ProgressCounters;
  readonly done: Promise<void>;
}

export class JobRunner {
  private readonly opts: JobRunnerOptions;
  private readonly queue: string[] = [];
  private readonly running = new Map<string, Running>();
  private readonly updates = new EventEmitter();
  private stopping = false;

  constructor(opts: JobRunnerOptions) {
    this.opts = opts;
    this.updates.setMaxListeners(0);
  }

  async submit(job: NewJob): Promise<CatalogJob> {
    if (this.stopping) throw new VmbakError('JOB_NOT_RUNNING', { jobId: job.id ?? 'new', op: 'queued', detail: 'the controller is stopping' });
    const created = await createJob(this.opts.catalog, { ...job, host: this.opts.host });
    this.queue.push(created.id);
    this.emit(created, null);
    this.pump();
    return created;
  }

  /** True while the job is queued or running here. */
  holds(jobId: string): boolean {
    return this.running.has(jobId) || this.queue.includes(jobId);
  }

  async control(jobId: string, action: JobAction): Promise<CatalogJob> {
    const { catalog } = this.opts;
    const job = await getJob(catalog, jobId);
    if (!job) throw new VmbakError('JOB_NOT_FOUND', { jobId });
    const queuedAt = this.queue.indexOf(jobId);
    if (queuedAt >= 0 && action === 'abort') {
      this.queue.splice(queuedAt, 1);
      const aborted = await setJobState(catalog, jobId, 'aborted', 'aborted before it started');
      this.emit(aborted, 'aborted before it started');
      return aborted;
    }
    const run = this.running.get(jobId);
    if (!run) throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: `${action}d`, detail: `it is ${job.state}` });
    if (action === 'abort') {
      run.abort.abort(new VmbakError('ABORTED', { signal: 'the API' }));
      return job;
    }
    if (action === 'pause' ? !run.gate.pause() : !run.gate.resume()) {
      throw new VmbakError('JOB_NOT_RUNNING', { jobId, op: `${action}d`, detail: `it is ${job.state}` });
    }
    const changed = await setJobState(catalog, jobId, action === 'pause' ? 'paused' : 'running');
    this.emit(changed, action === 'pause' ? 'paused' : 'resumed');
    return changed;
  }

  subscribe(listener: (u: JobUpdate) => void): () => void {
    this.updates.on('update', listener);
    return () => this.updates.off('update', listener);
  }

  /** Stops taking jobs, aborts the running ones and waits until each has cleaned up. */
  async stop(reason: string): Promise<void> {
    this.stopping = true;
    for (const id of this.queue.splice(0)) {
      await setJobState(this.opts.catalog, id, 'interrupted', reason).catch(() => {});
    }
    for (const run of this.running.values()) run.abort.abort(new VmbakError('ABORTED', { signal: reason }));
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.opts.streams && this.queue.length > 0) {
      const jobId = this.queue.shift()!;
      const abort = new AbortController();
      const gate = new PauseGate({
        maxPauseMs: this.opts.maxPauseMs ?? 30 * 60_000,
        onExpire: (ms) => abort.abort(new VmbakError('PAUSE_TOO_LONG', { limit: `${Math.round(ms / 60_000)} min` })),
      });
      const progress = newProgress(Date.now());
      const run: Running = { abort, gate, progress, done: Promise.resolve() };
      const done = this.execute(jobId, run).finally(() => {
        this.running.delete(jobId);
        this.pump();
      });
      this.running.set(jobId, { ...run, done });
    }
  }

  private async execute(jobId: string, run: Running): Promise<void> {
    const { catalog } = this.opts;
    let job: CatalogJob;
    try {
      job = await setJobState(catalog, jobId, 'running');
    } catch {
      return; // aborted or interrupted meanwhile
    }
    this.emit(job, null);
    const executor = this.opts.executors[job.kind];
    const ticker = setInterval(() => this.reportProgress(job, run.progress), this.opts.progressEveryMs ?? 1000);
    let outcome: JobOutcome;
    try {
      if (!executor) throw new VmbakError('INTERNAL', { detail: `no executor for ${job.kind} jobs on this agent` });
      const ctx: JobContext = {
        job, signal: run.abort.signal, gate: run.gate, progress: run.progress,
        log: (level, message, vmKey = null) => {
          void appendJobEvent(catalog, jobId, level, message, vmKey).catch(() => {});
          this.emit(job, message);
        },
      };
      outcome = await executor(ctx);
    } catch (err) {
      outcome = { state: 'failed', error: isVmbakError(err) ? err.message : describeError(err) };
      if (run.abort.signal.aborted) outcome = { state: 'failed', error: (run.abort.signal.reason as Error).message };
    } finally {
      clearInterval(ticker);
    }
    const state = run.abort.signal.aborted ? 'aborted' : outcome.state;
    await this.reportProgress(job, run.progress);
    // A pause ends with the job: a paused job's gate is open again before the state changes.
    run.gate.resume();
    const finished = await setJobState(catalog, jobId, state, outcome.error ?? null).catch(async () => (await getJob(catalog, jobId))!);
    this.emit(finished, outcome.error ?? null);
    this.opts.onFinished?.(finished);
  }

  private async reportProgress(job: CatalogJob, progress: ProgressCounters): Promise<void> {
    await setJobProgress(this.opts.catalog, job.id, progress.bytesRead, progress.bytesStored ?? 0).catch(() => {});
    const fresh = await getJob(this.opts.catalog, job.id).catch(() => null);
    if (fresh) this.emit(fresh, null, progress);
  }

  private emit(job: CatalogJob, message: string | null, progress?: ProgressCounters): void {
    const elapsedS = progress ? Math.max(0.001, (Date.now() - progress.startedMs) / 1000) : 1;
    const update: JobUpdate = {
      jobId: job.id, kind: job.kind, state: job.state,
      bytesRead: progress?.bytesRead ?? job.bytesRead, bytesWritten: progress?.bytesStored ?? job.bytesWritten,
      bytesTotal: progress?.bytesToRead ?? null, rateBytesPerSec: progress ? Math.round(progress.bytesRead / elapsedS) : 0,
      message, atMs: Date.now(),
    };
    this.updates.emit('update', update);
  }
}
