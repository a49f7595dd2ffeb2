// Retention: which backups a policy keeps, per VM. Planning is a pure function of the
// backups and the clock, so --dry-run runs exactly the code that a real prune runs; executing
// a plan deletes each backup's manifest first (from then on the backup does not exist), then
// its disk indexes. Chunks are freed later by gc.

import { VmbakError } from '../core/index.ts';
import type { Repository } from './repository.ts';
import type { Manifest } from './manifest.ts';
import { backupPrefix, manifestObject } from './layout.ts';
import { acquireLock, operationLockName } from './locks.ts';

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
}

export interface PrunePlan {
  readonly keep: { manifest: Manifest; reasons: string[] }[];
  readonly remove: Manifest[];
}

const BUCKETS: [keyof RetentionPolicy, string, (d: Date) => string][] = [
  ['keepHourly', 'hourly', (d) => d.toISOString().slice(0, 13)],
  ['keepDaily', 'daily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', 'weekly', isoWeek],
  ['keepMonthly', 'monthly', (d) => d.toISOString().slice(0, 7)],
  ['keepYearly', 'yearly', (d) => d.toISOString().slice(0, 4)],
];

export function planPrune(backups: readonly Manifest[], policy: RetentionPolicy): PrunePlan {
  const values = Object.values(policy).filter((v): v is number => typeof v === 'number');
  if (values.length === 0 || values.every((v) => v <= 0)) {
    throw new VmbakError('USAGE', { detail: 'prune needs a retention rule that keeps something (--keep-last, --keep-daily, …)' });
  }
  const byVm = new Map<string, Manifest[]>();
  for (const m of backups) byVm.set(m.vm.key, [...(byVm.get(m.vm.key) ?? []), m]);
  const keep: PrunePlan['keep'] = [];
  const remove: Manifest[] = [];
  for (const group of byVm.values()) {
    const newestFirst = [...group].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    const reasons = new Map<string, string[]>();
    const why = (m: Manifest, r: string): void => { reasons.set(m.backupId, [...(reasons.get(m.backupId) ?? []), r]); };
    newestFirst.slice(0, policy.keepLast ?? 0).forEach((m) => why(m, 'last'));
    for (const [rule, label, bucketOf] of BUCKETS) {
      let left = policy[rule] ?? 0;
      let lastBucket: string | null = null;
      for (const m of newestFirst) {
        if (left <= 0) break;
        const bucket = bucketOf(new Date(m.time));
        if (bucket === lastBucket) continue;
        lastBucket = bucket;
        why(m, `${label} ${bucket}`);
        left--;
      }
    }
    for (const m of newestFirst) {
      const r = reasons.get(m.backupId);
      if (r) keep.push({ manifest: m, reasons: r });
      else remove.push(m);
    }
  }
  return { keep, remove };
}

/** Deletes the plan's backups under an operation lock, stopping at once if its lease is lost. */
export async function executePrune(repo: Repository, plan: PrunePlan): Promise<void> {
  if (plan.remove.length === 0) return;
  const lock = await acquireLock(repo.target, operationLockName(), 'prune', 'prune');
  try {
    for (const m of plan.remove) {
      await lock.ensureUsable();
      // The manifest goes first: a crash after it leaves only unreferenced index objects.
      await repo.target.delete(manifestObject(m.backupId));
      for (const o of await repo.target.list(backupPrefix(m.backupId))) await repo.target.delete(o.name);
    }
  } finally {
    await lock.release().catch(() => {});
  }
}

function isoWeek(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
