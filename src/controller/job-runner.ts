// The in-process job queue of one agent: jobs recorded in the catalog (queued → running ⇄
// paused → a final state) run here with at most `streams` at once, each with its own abort
// signal, pause gate and progress counters. Everything a job does is an executor per kind;
// the runner only keeps order, limits, control and the live updates the API streams. A
// queue on Redis (many hosts) will run the same executors; the catalog stays the record.
//
// Limits besides `streams` decide when a queued job starts: at most
// `maxWritersPerRepository` running jobs write to one repository (a job names the
// repositories it writes when it is submitted; one over the limit waits, and later jobs that
// write elsewhere may start before it) — counted in the catalog's writer slots, so the limit
// holds across controllers sharing a catalog and across all their agents' hosts; at most
// `hostLimit(host)` of one host's jobs are in flight (its agent's streams: a job waiting in an
// agent's queue would hold a writer slot another host could use); among the jobs that may
// start, the one whose host has the fewest running goes first, so one busy host does not
// starve another's queue; and a job with a backup window (`notAfterMs` in its
// params) that has not started by the window's end never starts: it fails as skipped. A
// running job at its window's end pauses until the window reopens if its policy says
// `atEnd: pause`, and otherwise runs on.

import { EventEmitter } from 'node:events';
import { VmbakError, describeError, isVmbakError, systemClock, type Clock } from '../core/index.ts';
import {
  anyJobControls, appendJobEvent, createJob, getJob, releaseWriterSlots, setJobProgress, setJobState, takeJobControls, takeWriterSlots,
  type Catalog, type CatalogJob, type JobEventLevel, type JobKind, type NewJob,
} from '../catalog/index.ts';
import { PauseGate, newProgress, type DiskProgress, type ProgressCounters } from '../engine/index.ts';
import type { DiskUpdate, JobAction, JobOutcome, JobUpdate } from './controller-api.ts';
import { advanceWindow, jobWindow, windowStep, type JobWindow } from './job-window.ts';

export interface JobContext {
  readonly job: CatalogJob;
  readonly signal: AbortSignal;
  readonly gate: PauseGate;
  readonly progress: ProgressCounters;
  /** A line in the job's log (and in the live stream). */
  log(level: JobEventLevel, message: string, vmKey?: string | null): void;
}

export type { JobOutcome } from './controller-api.ts';

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
  /** Running jobs that may write to one repository at once, across every runner on this catalog (default: no limit). */
  readonly maxWritersPerRepository?: number;
  /** How many of a host's jobs may be in flight at once (null: no limit of its own). */
  readonly hostLimit?: (host: string | null) => number | null;
  /** Who holds writer slots taken here (a controller's name and pid). */
  readonly holder?: string;
  /** Decides backup windows; the default is the system clock. */
  readonly clock?: Clock;
  /** How often backup windows are checked (default 1 s); tests call enforceWindows(). */
  readonly windowCheckEveryMs?: number;
}

export interface SubmitOptions {
  /** Repositories the job writes to, for the per-repository writer limit. */
  readonly writes?: readonly string[];
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
  private readonly writes = new Map<string, readonly string[]>();
  private readonly hosts = new Map<string, string | null>();
  private readonly writerLimit: number;
  private readonly waitNoted = new Set<string>();
  private readonly windows = new Map<string, JobWindow>();
  private readonly clock: Clock;
  private readonly windowTimer: NodeJS.Timeout;
  private stopping = false;
  private pumping = false;
  private pumpAgain = false;

  constructor(opts: JobRunnerOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? systemClock;
    this.writerLimit = opts.maxWritersPerRepository ?? Infinity;
    this.updates.setMaxListeners(0);
    this.windowTimer = setInterval(() => void this.tick(), opts.windowCheckEveryMs ?? 1000);
    this.windowTimer.unref();
  }

  async submit(job: NewJob, options: SubmitOptions = {}): Promise<CatalogJob> {
    if (this.stopping) throw new VmbakError('JOB_NOT_RUNNING', { jobId: job.id ?? 'new', op: 'queued', detail: 'the controller is stopping' });
    // An explicit null host stays null (a job no host can run); an absent one is this runner's.
    const created = await createJob(this.opts.catalog, { ...job, host: job.host !== undefined ? job.host : this.opts.host });
    if (options.writes?.length) this.writes.set(created.id, [...new Set(options.writes)]);
    this.hosts.set(created.id, created.host);
    const window = jobWindow(created.params);
    if (window) this.windows.set(created.id, window);
    this.queue.push(created.id);
    this.emit(created, null);
    await this.enforceWindows();
    this.pump();
    return created;
  }

  /** Jobs this runner has started that write to the repository (for tests and status). */
  writersOf(repository: string): number {
    return [...this.running.keys()].filter((id) => this.writes.get(id)?.includes(repository)).length;
  }

  private async tick(): Promise<void> {
    await this.applyRequestedControls().catch(() => {});
    await this.enforceWindows();
  }

  /** Pause/resume/abort asked of another controller for jobs held here (job-controls.ts). */
  private async applyRequestedControls(): Promise<void> {
    if (!await anyJobControls(this.opts.catalog)) return;
    const requests = await takeJobControls(this.opts.catalog, [...this.running.keys(), ...this.queue]);
    for (const [jobId, action] of requests) await this.control(jobId, action).catch(() => {});
  }

  /**
   * Backup windows at the clock's time: queued jobs past their window's end fail as skipped;
   * running ones with `atEnd: pause` pause until the window reopens, and resume then.
   */
  async enforceWindows(): Promise<void> {
    const nowMs = this.clock.nowMs();
    for (const [jobId, w] of this.windows) {
      const queuedAt = this.queue.indexOf(jobId);
      const run = this.running.get(jobId);
      const step = windowStep(w, nowMs, queuedAt >= 0 ? 'queued' : run ? (run.gate.paused ? 'paused' : 'running') : 'gone');
      if (step?.kind === 'skip') {
        this.queue.splice(queuedAt, 1);
        this.forget(jobId);
        const failed = await setJobState(this.opts.catalog, jobId, 'failed', step.message).catch(() => null);
        if (failed) {
          this.emit(failed, step.message);
          this.opts.onFinished?.(failed);
        }
      } else if (step?.kind === 'pause' && run?.gate.pause(step.limitMs)) {
        w.windowPaused = true;
        await this.changeState(jobId, 'paused', step.message);
      } else if (step?.kind === 'resume' && run) {
        advanceWindow(w);
        if (run.gate.resume()) await this.changeState(jobId, 'running', step.message);
      }
    }
    this.pump();
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
      this.forget(jobId);
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
    clearInterval(this.windowTimer);
    for (const id of this.queue.splice(0)) {
      await setJobState(this.opts.catalog, id, 'interrupted', reason).catch(() => {});
    }
    for (const run of this.running.values()) run.abort.abort(new VmbakError('ABORTED', { signal: reason }));
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private async changeState(jobId: string, state: 'paused' | 'running', message: string): Promise<void> {
    const changed = await setJobState(this.opts.catalog, jobId, state).catch(() => null);
    if (!changed) return;
    void appendJobEvent(this.opts.catalog, jobId, 'info', message).catch(() => {});
    this.emit(changed, message);
  }

  /**
   * The queued job to start next: of those whose host has room, the one whose host has the
   * fewest running (oldest first among equals) that gets a writer slot on each repository it
   * writes; notes once in a job's log why it waits.
   */
  private async nextStartable(): Promise<string | null> {
    const runningOn = new Map<string | null, number>();
    for (const id of this.running.keys()) {
      const host = this.hosts.get(id) ?? null;
      runningOn.set(host, (runningOn.get(host) ?? 0) + 1);
    }
    const candidates = this.queue
      .map((jobId, order) => ({ jobId, order, host: this.hosts.get(jobId) ?? null }))
      .filter(({ host }) => (runningOn.get(host) ?? 0) < (this.opts.hostLimit?.(host) ?? Infinity))
      .sort((a, b) => (runningOn.get(a.host) ?? 0) - (runningOn.get(b.host) ?? 0) || a.order - b.order);
    const full = new Set<string>();
    for (const { jobId } of candidates) {
      const writes = this.writes.get(jobId) ?? [];
      let waitsOn = writes.find((repo) => full.has(repo)) ?? null;
      if (waitsOn === null && writes.length > 0 && this.writerLimit !== Infinity) {
        waitsOn = await takeWriterSlots(this.opts.catalog, jobId, writes, this.writerLimit, this.opts.holder ?? this.opts.host);
      }
      if (waitsOn === null) {
        const at = this.queue.indexOf(jobId);
        if (at < 0) { await releaseWriterSlots(this.opts.catalog, jobId); continue; } // aborted meanwhile
        this.queue.splice(at, 1);
        return jobId;
      }
      full.add(waitsOn);
      if (!this.waitNoted.has(jobId)) {
        this.waitNoted.add(jobId);
        const message = `waiting: ${waitsOn} already has ${this.writerLimit} writing job(s)`;
        void appendJobEvent(this.opts.catalog, jobId, 'info', message).catch(() => {});
      }
    }
    return null;
  }

  private forget(jobId: string): void {
    this.writes.delete(jobId);
    this.hosts.delete(jobId);
    this.waitNoted.delete(jobId);
    this.windows.delete(jobId);
  }

  /** Starts what may start; one pass at a time (taking writer slots is a catalog round trip). */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.startWhatMay().catch(() => {}).finally(() => {
      this.pumping = false;
      if (this.pumpAgain) {
        this.pumpAgain = false;
        this.pump();
      }
    });
  }

  private async startWhatMay(): Promise<void> {
    while (!this.stopping && this.running.size < this.opts.streams && this.queue.length > 0) {
      const jobId = await this.nextStartable();
      if (jobId === null) return;
      if (this.stopping) {
        await releaseWriterSlots(this.opts.catalog, jobId);
        return;
      }
      this.start(jobId);
    }
  }

  private start(jobId: string): void {
    const abort = new AbortController();
    const gate = new PauseGate({
      maxPauseMs: this.opts.maxPauseMs ?? 30 * 60_000,
      onExpire: (ms) => abort.abort(new VmbakError('PAUSE_TOO_LONG', { limit: `${Math.round(ms / 60_000)} min` })),
    });
    const progress = newProgress(Date.now());
    const run: Running = { abort, gate, progress, done: Promise.resolve() };
    const done = this.execute(jobId, run).finally(async () => {
      this.running.delete(jobId);
      this.forget(jobId);
      // The finished state already frees the slots; deleting the rows keeps the tables small.
      await releaseWriterSlots(this.opts.catalog, jobId).catch(() => {});
      await takeJobControls(this.opts.catalog, [jobId]).catch(() => {});
      this.pump();
    });
    this.running.set(jobId, { ...run, done });
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
      message, atMs: Date.now(), disks: (progress?.disks ?? []).map(diskUpdate),
    };
    this.updates.emit('update', update);
  }
}

function diskUpdate(d: DiskProgress): DiskUpdate {
  const elapsedS = Math.max(0.001, ((d.finishedMs ?? Date.now()) - d.startedMs) / 1000);
  return { vm: d.vm, disk: d.disk, bytesRead: d.bytesRead, bytesTotal: d.bytesToRead, rateBytesPerSec: Math.round(d.bytesRead / elapsedS), done: d.finishedMs !== null };
}
