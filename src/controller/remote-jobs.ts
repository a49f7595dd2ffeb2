// Jobs run by agents on other hosts, over BullMQ on Redis: one queue per host (a backup runs
// where its VMs live) and one shared queue for care jobs (verify, gc: any agent may run them,
// so their reads never pass through the controller either). The controller's job runner
// still owns every job's state, limits and live view: for a remote job its executor is this
// dispatch — queue the job, relay pause/resume/abort to the agent in answer to its reports,
// and wait for the agent's final word. BullMQ's lock renewal is the agent's heartbeat: a
// killed agent's job goes back to its queue (stalled) and runs again when an agent of that
// host is back, or fails once retries are spent.

import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { CatalogJob } from '../catalog/index.ts';
import type { AgentControl, AgentReport } from './controller-api.ts';
import type { JobContext, JobExecutor, JobOutcome } from './job-runner.ts';

/** A host's queue name; `care` is every agent's. */
export const hostQueueName = (host: string): string => `vmbak-host-${host}`;
export const CARE_QUEUE = 'vmbak-care';

/** The job as an agent receives it in the queue. */
export interface QueuedJob {
  readonly job: CatalogJob;
}

interface Pending {
  readonly ctx: JobContext;
  readonly resolve: (outcome: JobOutcome) => void;
  readonly reject: (err: Error) => void;
}

export interface RemoteJobsOptions {
  readonly redisUrl: string;
  /**
   * Runs of one job after its agent failed it outright (default 1: none again). An agent
   * reports every outcome through the API and fails a job only when it cannot, so a rerun
   * could repeat finished work; a killed agent's job is rerun by BullMQ's stalled check instead.
   */
  readonly attempts?: number;
}

function parseOutcome(value: unknown): JobOutcome | null {
  const v = typeof value === 'string' ? (() => { try { return JSON.parse(value) as unknown; } catch { return null; } })() : value;
  if (!v || typeof v !== 'object') return null;
  const { state, error } = v as { state?: unknown; error?: unknown };
  if (state !== 'succeeded' && state !== 'warning' && state !== 'failed') return null;
  return { state, error: typeof error === 'string' ? error : null };
}

export class RemoteJobs {
  private readonly opts: RemoteJobsOptions;
  private readonly queues = new Map<string, { queue: Queue; events: QueueEvents }>();
  private readonly pending = new Map<string, Pending>();

  constructor(opts: RemoteJobsOptions) {
    this.opts = opts;
  }

  /**
   * The Redis an agent of `host` connects to: as a Redis user of its own (ACL, made anew with a
   * new password at each registration) that reaches only its host's queue and the care queue —
   * an agent cannot read or take another host's jobs. A Redis that will not make users (no ACL
   * permission for the controller's account) gets the controller's own URL, and says why.
   */
  async agentRedisUrl(host: string): Promise<{ url: string; restricted: boolean; why?: string }> {
    const user = `vmbak-agent-${host}`;
    const password = randomBytes(24).toString('base64url');
    const keys = [hostQueueName(host), CARE_QUEUE].map((q) => `~bull:${q}:*`);
    const admin = new Redis(this.opts.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await admin.connect();
      // BullMQ runs Lua scripts over its queue's keys, blocks on them, and reads INFO for the server's version.
      await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...keys, 'resetchannels', '+@all', '-@dangerous', '+info', '+client|setname', '+client|getname');
      // Users live in memory unless Redis has an ACL file: saved there, they outlive a restart.
      const saved = await admin.call('ACL', 'SAVE').then(() => true, () => false);
      if (!saved) return { url: this.withUser(user, password), restricted: true, why: 'Redis has no aclfile: the agent\'s user is lost when Redis restarts' };
    } catch (err) {
      return { url: this.opts.redisUrl, restricted: false, why: (err as Error).message };
    } finally {
      admin.disconnect();
    }
    return { url: this.withUser(user, password), restricted: true };
  }

  private withUser(user: string, password: string): string {
    const url = new URL(this.opts.redisUrl);
    url.username = user;
    url.password = password;
    return url.toString();
  }

  /** The executor of a job kind run remotely: on the job's host's queue, or the care queue. */
  executor(where: 'host' | 'care'): JobExecutor {
    return async (ctx) => {
      if (where === 'care') return this.dispatch(ctx, CARE_QUEUE);
      if (!ctx.job.host) return { state: 'failed', error: 'no agent has reported any VM this job selects' };
      return this.dispatch(ctx, hostQueueName(ctx.job.host));
    };
  }

  /** An agent's report on a job: logged into its context; the answer says whether to pause or abort. */
  report(jobId: string, report: AgentReport): AgentControl | null {
    const p = this.pending.get(jobId);
    if (!p) return null;
    for (const line of report.log ?? []) p.ctx.log(line.level, line.message, line.vmKey ?? null);
    if (report.progress) {
      p.ctx.progress.bytesRead = report.progress.bytesRead;
      p.ctx.progress.bytesStored = report.progress.bytesStored;
      p.ctx.progress.bytesToRead = report.progress.bytesToRead ?? p.ctx.progress.bytesToRead;
      if (report.progress.disks) {
        // Elapsed times, not the agent's clock: placed on this controller's clock as of now.
        const nowMs = Date.now();
        p.ctx.progress.disks.splice(0, Infinity, ...report.progress.disks.map((d) => ({
          vm: d.vm, disk: d.disk, bytesToRead: d.bytesToRead, bytesRead: d.bytesRead, startedMs: nowMs - d.elapsedMs, finishedMs: d.done ? nowMs : null,
        })));
      }
    }
    return { abort: p.ctx.signal.aborted, paused: p.ctx.gate.paused };
  }

  /** The agent's final word on a job; false when this controller does not wait for it (it restarted since). */
  finish(jobId: string, outcome: JobOutcome): boolean {
    const p = this.pending.get(jobId);
    if (!p) return false;
    this.pending.delete(jobId);
    p.resolve(outcome);
    return true;
  }

  async close(): Promise<void> {
    for (const { queue, events } of this.queues.values()) {
      await events.close().catch(() => {});
      await queue.close().catch(() => {});
    }
    this.queues.clear();
  }

  private async dispatch(ctx: JobContext, queueName: string): Promise<JobOutcome> {
    const { queue } = await this.queueOf(queueName);
    const outcome = new Promise<JobOutcome>((resolve, reject) => this.pending.set(ctx.job.id, { ctx, resolve, reject }));
    const queued = await queue.add(ctx.job.kind, { job: ctx.job } satisfies QueuedJob, {
      jobId: ctx.job.id, attempts: this.opts.attempts ?? 1,
      removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 },
    });
    ctx.log('info', `queued for ${queueName === CARE_QUEUE ? 'any agent' : `host ${ctx.job.host}`}`);
    // An abort before an agent took the job takes it out of the queue; a running one hears it in its next report.
    const onAbort = () => { void queued.remove().catch(() => {}).then(() => this.finish(ctx.job.id, { state: 'failed', error: (ctx.signal.reason as Error).message })); };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await outcome;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.pending.delete(ctx.job.id);
    }
  }

  private async queueOf(name: string): Promise<{ queue: Queue; events: QueueEvents }> {
    let q = this.queues.get(name);
    if (!q) {
      const connection = { url: this.opts.redisUrl, maxRetriesPerRequest: null };
      q = { queue: new Queue(name, { connection }), events: new QueueEvents(name, { connection }) };
      // A job BullMQ gives up on (a stalled job out of attempts) never gets the agent's final word.
      q.events.on('failed', ({ jobId, failedReason }) => {
        const p = this.pending.get(jobId);
        if (p) { this.pending.delete(jobId); p.resolve({ state: 'failed', error: failedReason }); }
      });
      // The agent may have given its final word to another controller sharing the catalog (the
      // one it reached): the job's result in the queue tells this one.
      q.events.on('completed', ({ jobId, returnvalue }) => {
        const p = this.pending.get(jobId);
        const outcome = parseOutcome(returnvalue);
        if (p && outcome) { this.pending.delete(jobId); p.resolve(outcome); }
      });
      this.queues.set(name, q);
      await q.events.waitUntilReady();
    }
    return q;
  }
}
