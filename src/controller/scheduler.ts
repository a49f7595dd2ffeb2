// Fires policies on their cron schedules. croner computes fire times (time zones, a seconds
// field); this module decides what to do with them. Each firing is claimed once in the
// catalog as (policy, fire time), so a restart or a second controller never runs it twice.
// After downtime, of all the firings missed only the latest runs, once. A policy with a
// backup window gets a job that must start before the window ends; jitter spreads firings
// that would all start at the same second. Repositories' care tasks (verify new backups,
// verify all, gc) fire the same way from their care specs, claimed per (repository, task).

import { Cron } from 'croner';
import { parseDuration, type Clock } from '../core/index.ts';
import {
  CARE_TASKS, claimCareFiring, claimFiring, lastClaimedCareFiring, lastClaimedFiring, listPolicies, listRepositories, setCareClaimJob, setClaimJob,
  type Catalog, type CareTask, type PolicySpec,
} from '../catalog/index.ts';

export interface FiringRequest {
  readonly policy: string;
  readonly fireMs: number;
  /** The job must have started by then (the end of the policy's backup window), or null. */
  readonly notAfterMs: number | null;
  /** What a job still running at the window's end does. */
  readonly atEnd: 'continue' | 'pause';
  /** When the window opens again after notAfterMs (where a paused job resumes), or null. */
  readonly resumeAtMs: number | null;
}

export interface CareFiringRequest {
  readonly repository: string;
  readonly task: CareTask;
  readonly fireMs: number;
}

export interface SchedulerOptions {
  readonly catalog: Catalog;
  readonly clock: Clock;
  /** Queues the policy's job; returns its id. */
  readonly fire: (request: FiringRequest) => Promise<string>;
  /** Queues a repository's care job; returns its id. */
  readonly fireCare: (request: CareFiringRequest) => Promise<string>;
  /** `what` names the policy, or the repository and task. */
  readonly onError: (what: string, err: unknown) => void;
  readonly tickMs?: number;
}

interface Scheduled {
  readonly cron: Cron;
  nextMs: number | null;
  /** Claims the firing and, if this controller got it, queues its job. */
  readonly fireOnce: (fireMs: number) => Promise<void>;
}

export class Scheduler {
  private readonly opts: SchedulerOptions;
  private entries = new Map<string, Scheduled>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
  }

  /** Reads the enabled policies anew: a changed schedule takes effect at once. */
  async reload(): Promise<void> {
    const next = new Map<string, Scheduled>();
    const add = (key: string, cron: Cron, last: number | null, fireOnce: (fireMs: number) => Promise<void>) => {
      next.set(key, { cron, fireOnce, nextMs: cron.nextRun(new Date(last ?? this.opts.clock.nowMs()))?.getTime() ?? null });
    };
    for (const p of await listPolicies(this.opts.catalog)) {
      if (!p.enabled) continue;
      add(p.name, new Cron(p.spec.schedule, { timezone: p.spec.timezone }), await lastClaimedFiring(this.opts.catalog, p.name),
        (fireMs) => this.fireOnce(p.name, p.spec, fireMs));
    }
    for (const r of await listRepositories(this.opts.catalog)) {
      for (const task of CARE_TASKS) {
        const schedule = r.care[task];
        if (schedule === false) continue;
        add(`repository ${r.name} ${task}`, new Cron(schedule, { timezone: r.care.timezone }),
          await lastClaimedCareFiring(this.opts.catalog, r.name, task), (fireMs) => this.fireCareOnce(r.name, task, fireMs));
      }
    }
    this.entries = next;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.opts.tickMs ?? 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The next `count` fire times of a policy's schedule, from now. */
  nextRuns(spec: PolicySpec, count: number): number[] {
    return new Cron(spec.schedule, { timezone: spec.timezone }).nextRuns(count, new Date(this.opts.clock.nowMs())).map((d) => d.getTime());
  }

  /** The next fire time of a care schedule, from now (null: off, or it never fires again). */
  nextCareRun(schedule: string | false, timezone: string | undefined): number | null {
    if (schedule === false) return null;
    return new Cron(schedule, { timezone }).nextRun(new Date(this.opts.clock.nowMs()))?.getTime() ?? null;
  }

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const nowMs = this.opts.clock.nowMs();
      for (const [name, s] of this.entries) {
        if (s.nextMs === null || s.nextMs > nowMs) continue;
        // Missed firings collapse into the latest one that is due.
        let fireMs = s.nextMs;
        for (let next = s.cron.nextRun(new Date(fireMs))?.getTime(); next !== undefined && next <= nowMs; next = s.cron.nextRun(new Date(next))?.getTime()) fireMs = next;
        s.nextMs = s.cron.nextRun(new Date(fireMs))?.getTime() ?? null;
        await s.fireOnce(fireMs).catch((err: unknown) => this.opts.onError(name, err));
      }
    } finally {
      this.ticking = false;
    }
  }

  private async fireOnce(policy: string, spec: PolicySpec, fireMs: number): Promise<void> {
    if (!(await claimFiring(this.opts.catalog, policy, fireMs))) return; // another controller has it
    const jitterMs = spec.jitter ? Math.floor(Math.random() * (parseDuration(spec.jitter) ?? 0)) : 0;
    if (jitterMs > 0) await new Promise((r) => setTimeout(r, jitterMs));
    const notAfterMs = windowEndMs(spec, fireMs);
    const jobId = await this.opts.fire({
      policy, fireMs, notAfterMs, atEnd: spec.window?.atEnd ?? 'continue',
      resumeAtMs: notAfterMs === null ? null : windowStartAfterMs(spec, notAfterMs),
    });
    await setClaimJob(this.opts.catalog, policy, fireMs, jobId);
  }

  private async fireCareOnce(repository: string, task: CareTask, fireMs: number): Promise<void> {
    if (!(await claimCareFiring(this.opts.catalog, repository, task, fireMs))) return;
    const jobId = await this.opts.fireCare({ repository, task, fireMs });
    await setCareClaimJob(this.opts.catalog, repository, task, fireMs, jobId);
  }
}

/** The end of the backup window that contains fireMs (in the policy's time zone), or null. */
export function windowEndMs(spec: PolicySpec, fireMs: number): number | null {
  // The first time after the firing whose wall clock reads the window's end.
  return spec.window ? nextWallClockMs(spec.window.end, spec.timezone, fireMs) : null;
}

/** The next opening of the policy's backup window after ms (where a paused job resumes), or null. */
export function windowStartAfterMs(spec: PolicySpec, ms: number): number | null {
  return spec.window ? nextWallClockMs(spec.window.start, spec.timezone, ms) : null;
}

function nextWallClockMs(hhmm: string, timezone: string | undefined, afterMs: number): number | null {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return new Cron(`0 ${m} ${h} * * *`, { timezone }).nextRun(new Date(afterMs))?.getTime() ?? null;
}
