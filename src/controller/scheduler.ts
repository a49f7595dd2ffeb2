// Fires policies on their cron schedules. croner computes fire times (time zones, a seconds
// field); this module decides what to do with them. Each firing is claimed once in the
// catalog as (policy, fire time), so a restart or a second controller never runs it twice.
// After downtime, of all the firings missed only the latest runs, once. A policy with a
// backup window gets a job that must start before the window ends; jitter spreads firings
// that would all start at the same second.

import { Cron } from 'croner';
import { parseDuration, type Clock } from '../core/index.ts';
import { claimFiring, lastClaimedFiring, listPolicies, setClaimJob, type Catalog, type PolicySpec } from '../catalog/index.ts';

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

export interface SchedulerOptions {
  readonly catalog: Catalog;
  readonly clock: Clock;
  /** Queues the policy's job; returns its id. */
  readonly fire: (request: FiringRequest) => Promise<string>;
  readonly onError: (policy: string, err: unknown) => void;
  readonly tickMs?: number;
}

interface Scheduled {
  readonly cron: Cron;
  readonly spec: PolicySpec;
  nextMs: number | null;
}

export class Scheduler {
  private readonly opts: SchedulerOptions;
  private policies = new Map<string, Scheduled>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
  }

  /** Reads the enabled policies anew: a changed schedule takes effect at once. */
  async reload(): Promise<void> {
    const next = new Map<string, Scheduled>();
    for (const p of await listPolicies(this.opts.catalog)) {
      if (!p.enabled) continue;
      const cron = new Cron(p.spec.schedule, { timezone: p.spec.timezone });
      const last = await lastClaimedFiring(this.opts.catalog, p.name);
      const from = last ?? this.opts.clock.nowMs();
      next.set(p.name, { cron, spec: p.spec, nextMs: cron.nextRun(new Date(from))?.getTime() ?? null });
    }
    this.policies = next;
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

  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const nowMs = this.opts.clock.nowMs();
      for (const [name, s] of this.policies) {
        if (s.nextMs === null || s.nextMs > nowMs) continue;
        // Missed firings collapse into the latest one that is due.
        let fireMs = s.nextMs;
        for (let next = s.cron.nextRun(new Date(fireMs))?.getTime(); next !== undefined && next <= nowMs; next = s.cron.nextRun(new Date(next))?.getTime()) fireMs = next;
        s.nextMs = s.cron.nextRun(new Date(fireMs))?.getTime() ?? null;
        await this.fireOnce(name, s.spec, fireMs).catch((err: unknown) => this.opts.onError(name, err));
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
