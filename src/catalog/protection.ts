// "Is everything protected?": each present VM with its newest backup and its newest good one
// (any verify state but failed — a backup whose verify failed protects nothing), read from
// vm_backup_summary (backup-summary.ts) rather than from millions of backups, against the
// RPO of the policy assigned to it (vms.policy, policies.rpo_ms). The summary is counted in
// SQL, so the dashboard of 10 000 VMs moves a few numbers, not 10 000 rows.

import { sql } from 'kysely';
import type { VmState } from '../core/index.ts';
import type { Catalog } from './open.ts';

export interface VmProtection {
  readonly uuid: string;
  readonly name: string;
  readonly host: string | null;
  readonly state: VmState;
  readonly policy: string | null;
  readonly rpoMs: number | null;
  readonly lastBackupMs: number | null;
  readonly lastGoodBackupMs: number | null;
}

export interface ProtectionSummary {
  readonly vms: number;
  /** VMs with at least one good backup. */
  readonly protectedVms: number;
  readonly unprotectedVms: number;
  /** VMs whose policy has an RPO and whose newest good backup is within it. */
  readonly rpoMet: number;
  /** VMs whose policy has an RPO and whose newest good backup is older (or missing). */
  readonly rpoMissed: number;
  /** VMs without a policy with an RPO. */
  readonly noRpo: number;
  /** Up to `missedLimit` of the VMs that missed their RPO, longest without a good backup first. */
  readonly missed: readonly VmProtection[];
}

function protectionQuery(catalog: Catalog) {
  return catalog.db.selectFrom('vms as v')
    .leftJoin('vm_backup_summary as s', 's.vm_key', 'v.uuid')
    .leftJoin('policies as p', 'p.name', 'v.policy')
    .where('v.gone_ms', 'is', null);
}

// A VM never backed up counts from when it was first seen: a VM that appears misses its RPO
// once it has gone that long without a good backup, not at once.
const missedRpo = (nowMs: number) => sql<boolean>`p.rpo_ms is not null and coalesce(s.last_good_backup_ms, v.first_seen_ms) < ${nowMs} - p.rpo_ms`;

export async function summarizeProtection(catalog: Catalog, nowMs: number, missedLimit = 100): Promise<ProtectionSummary> {
  const counts = await protectionQuery(catalog).select((eb) => [
    eb.fn.countAll<number>().as('vms'),
    eb.fn.count<number>('s.last_good_backup_ms').as('protected'),
    eb.fn.count<number>('p.rpo_ms').as('with_rpo'),
    eb.fn.sum<number>(eb.case().when(missedRpo(nowMs)).then(1).else(0).end()).as('missed'),
  ]).executeTakeFirstOrThrow();
  const vms = Number(counts.vms);
  const withRpo = Number(counts.with_rpo);
  const rpoMissed = Number(counts.missed ?? 0);
  const missed = rpoMissed > 0 && missedLimit > 0 ? await listVmProtection(catalog, { missedRpoAt: nowMs, limit: missedLimit }) : [];
  return {
    vms, protectedVms: Number(counts.protected), unprotectedVms: vms - Number(counts.protected),
    rpoMet: withRpo - rpoMissed, rpoMissed, noRpo: vms - withRpo, missed,
  };
}

/** Present VMs with their protection; with `missedRpoAt`, only those missing their RPO then, worst first. */
export async function listVmProtection(catalog: Catalog, opts: { missedRpoAt?: number; limit?: number } = {}): Promise<VmProtection[]> {
  let q = protectionQuery(catalog)
    .select(['v.uuid', 'v.name', 'v.host', 'v.state', 'v.policy', 'p.rpo_ms', 's.last_backup_ms', 's.last_good_backup_ms']);
  if (opts.missedRpoAt !== undefined) {
    q = q.where(missedRpo(opts.missedRpoAt)).orderBy(sql`coalesce(s.last_good_backup_ms, 0)`).orderBy('v.name');
  }
  if (opts.limit !== undefined) q = q.limit(opts.limit);
  const rows = await q.execute();
  return rows.map((r) => ({
    uuid: r.uuid, name: r.name, host: r.host, state: r.state as VmState, policy: r.policy, rpoMs: r.rpo_ms ?? null,
    lastBackupMs: r.last_backup_ms ?? null, lastGoodBackupMs: r.last_good_backup_ms ?? null,
  }));
}
