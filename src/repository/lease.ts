// A held lock is a lease. Its owner refreshes it by creating the next generation (never by
// overwriting: an overwrite could resurrect a lock someone else has taken over), and proves
// after each refresh that its previous generation is still there and still its own. When
// that proof fails — the lock was removed or taken over — or cannot be made for longer than
// the usable window, `signal` fires with LEASE_LOST and the operation stops. Writers also
// call assertHeld() right before each disk index and manifest: an owner check against the
// stored objects, so a process that was frozen (or whose timer never fired) finds out before
// it records anything. The arithmetic behind the windows is in docs/format.md ("Locks").

import { VmbakError, describeError, type Clock, type Target } from '../core/index.ts';
import {
  encodeRecord, generationObject, isSharedLockName, listGenerations, readGeneration, type LockRecord,
} from './lock-record.ts';

export interface LockTimings {
  /** Others may take a lock over once its newest generation is this old (by the server's clock). */
  readonly staleAfterMs: number;
  /** How often the owner writes a new generation. */
  readonly refreshEveryMs: number;
  /** How long after its last refresh the owner may still act on the lease without a new one. */
  readonly usableForMs: number;
}

/** The stale window is 10 minutes; VMBAK_LOCK_STALE_MS shortens it (tests stall processes past it). */
export function lockTimings(): LockTimings {
  const fromEnv = Number(process.env.VMBAK_LOCK_STALE_MS);
  const staleAfterMs = Number.isFinite(fromEnv) && fromEnv >= 1000 ? fromEnv : 10 * 60_000;
  return { staleAfterMs, refreshEveryMs: staleAfterMs / 10, usableForMs: staleAfterMs / 2 };
}

export interface HeldLock {
  readonly name: string;
  readonly owner: LockRecord;
  /** Fires with LEASE_LOST once the lease can no longer be proven. */
  readonly signal: AbortSignal;
  /** Proves against the stored objects that the lock is still ours (refreshing if due); throws LEASE_LOST if not. */
  assertHeld(): Promise<void>;
  /** Cheap unless a refresh is due: for loops that act on the lease many times (gc's deletes). */
  ensureUsable(): Promise<void>;
  /** Records more about the owner (the gc plan it read) in a new generation; a failed write is reported, not thrown. */
  note(fields: Pick<LockRecord, 'gcPlanSeen'>): Promise<void>;
  release(): Promise<void>;
}

export type RefreshFailureReporter = (lockName: string, err: unknown) => void;

const reportToStderr: RefreshFailureReporter = (lockName, err) => {
  process.stderr.write(`vmbak: warning: could not refresh lock ${lockName}: ${describeError(err)}\n`);
};

export class Lease implements HeldLock {
  readonly name: string;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private record: LockRecord;
  private generation: number;
  private lastRefreshMs: number;
  private refreshing: Promise<void> | null = null;
  private readonly target: Target;
  private readonly what: string;
  private readonly clock: Clock;
  private readonly timings: LockTimings;
  private readonly report: RefreshFailureReporter;

  constructor(
    target: Target, name: string, generation: number, record: LockRecord, what: string,
    clock: Clock, timings: LockTimings, report: RefreshFailureReporter = reportToStderr,
  ) {
    this.target = target;
    this.what = what;
    this.clock = clock;
    this.timings = timings;
    this.report = report;
    this.name = name;
    this.generation = generation;
    this.record = record;
    this.lastRefreshMs = record.refreshedMs;
    this.timer = setInterval(() => this.onTimer(), timings.refreshEveryMs);
    this.timer.unref();
  }

  get owner(): LockRecord {
    return this.record;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  async assertHeld(): Promise<void> {
    // A refresh is a proof too; one that fails for the target's sake leaves the plain check.
    if (!(await this.refreshIfDue())) await this.checkOwnership();
    this.throwIfLost();
  }

  async ensureUsable(): Promise<void> {
    await this.refreshIfDue();
    this.throwIfLost();
  }

  /**
   * Refreshes when one is due. True when it did; false when none was due or it failed for
   * the target's sake within the usable window (reported, as the timer's failures are).
   */
  private async refreshIfDue(): Promise<boolean> {
    this.throwIfLost();
    if (this.clock.nowMs() - this.lastRefreshMs < this.timings.refreshEveryMs) return false;
    try {
      await this.refresh();
      return true;
    } catch (err) {
      this.refreshFailed(err);
      this.throwIfLost();
      return false;
    }
  }

  async note(fields: Pick<LockRecord, 'gcPlanSeen'>): Promise<void> {
    this.record = { ...this.record, ...fields };
    // A refresh that fails here is like a timer's: reported, and the next one carries the note
    // (until then gc counts this operation as one that has not read the plan, the safe side).
    await this.refresh().catch((err: unknown) => this.refreshFailed(err));
    this.throwIfLost();
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing?.catch(() => {});
    if (this.signal.aborted) return; // someone else's generation is on top now: leave it alone
    const own = generationObject(this.name, this.generation);
    if (isSharedLockName(this.name)) {
      await this.target.delete(own);
    } else {
      // A released generation on top keeps the numbering going, so no one can ever create a
      // generation with a number this lock has used and be taken for its owner.
      const free: LockRecord = { ...this.record, refreshedMs: this.clock.nowMs(), released: true };
      const marked = await this.target.create(generationObject(this.name, this.generation + 1), encodeRecord(free)).catch(() => null);
      // Where the released generation cannot be written, our own goes anyway: a lock left
      // looking live would block this very process's next attempt. (A generation number used
      // again later is told apart by its token.)
      if (marked !== false) await this.target.delete(own);
    }
    this.controller.abort(new VmbakError('LEASE_LOST', { what: this.what, repo: this.target.displayUrl, detail: 'released' }));
  }

  /** One refresh at a time: a timer tick and an assertHeld() may ask at once. */
  private refresh(): Promise<void> {
    this.refreshing ??= this.writeNextGeneration().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  private async writeNextGeneration(): Promise<void> {
    this.throwIfLost();
    const startedMs = this.clock.nowMs();
    const next = this.generation + 1;
    const record: LockRecord = { ...this.record, refreshedMs: startedMs };
    const nextObject = generationObject(this.name, next);
    if (!(await this.target.create(nextObject, encodeRecord(record)))) {
      // Either our own create whose reply was lost, or a takeover.
      const there = await readGeneration(this.target, nextObject);
      if (typeof there !== 'object' || 'corrupt' in there || there.token !== this.record.token) {
        return this.lose(`generation ${next} of the lock was written by another process: it was taken over`);
      }
    }
    const previous = await readGeneration(this.target, generationObject(this.name, this.generation));
    if (typeof previous !== 'object' || 'corrupt' in previous || previous.token !== this.record.token) {
      await this.target.delete(nextObject).catch(() => {});
      return this.lose('the lock object was removed by another process, which judged it stale');
    }
    const old = this.generation;
    this.generation = next;
    this.record = record;
    this.lastRefreshMs = startedMs;
    // A lower generation left behind is harmless: whoever writes the top removes those.
    await this.target.delete(generationObject(this.name, old)).catch(() => {});
  }

  private async checkOwnership(): Promise<void> {
    const top = (await listGenerations(this.target, this.name)).at(-1);
    if (!top) return this.lose('the lock object was removed by another process, which judged it stale');
    if (top.generation < this.generation) return this.lose('the lock object was removed by another process, which judged it stale');
    const stored = await readGeneration(this.target, top.object);
    if (typeof stored !== 'object' || 'corrupt' in stored || stored.token !== this.record.token) {
      return this.lose(top.generation === this.generation ? 'the lock object now belongs to another process' : `generation ${top.generation} of the lock was written by another process: it was taken over`);
    }
    // A generation above ours with our token is a refresh of ours whose last steps failed: the
    // next refresh goes on from it.
    if (top.generation > this.generation) await this.refresh();
  }

  private onTimer(): void {
    this.refresh().catch((err: unknown) => this.refreshFailed(err));
  }

  private refreshFailed(err: unknown): void {
    if (this.signal.aborted) return;
    this.report(this.name, err);
    const sinceMs = this.clock.nowMs() - this.lastRefreshMs;
    if (sinceMs > this.timings.usableForMs) {
      this.lose(`not refreshed for ${Math.round(sinceMs / 1000)} s, last failure: ${describeError(err)}`);
    }
  }

  private lose(detail: string): void {
    if (this.signal.aborted) return;
    clearInterval(this.timer);
    this.controller.abort(new VmbakError('LEASE_LOST', { what: this.what, repo: this.target.displayUrl, detail }));
  }

  private throwIfLost(): void {
    if (this.signal.aborted) throw this.signal.reason;
  }
}
