// vm_backup_summary: each VM key's newest backup and newest good one (verify not failed),
// derived from backups and kept in step inside the same transaction by every function that
// changes backups. Adding backups merges (a newer time wins) — one small upsert per batch,
// cheap enough for a year of 10 000 daily backups; removals and verify failures recompute
// the keys they touch from the backups_vm_time index. The dashboard and name lookups read it.

import type { Catalog } from './open.ts';

export interface SummaryCandidate {
  readonly backupId: string;
  readonly vmKey: string;
  readonly vmName: string;
  readonly timeMs: number;
}

/**
 * Merges just-recorded backups of one repository into the summary: they can only make a VM's
 * newest backup (and, unless their id is in `failed`, its newest good one) newer.
 */
export async function mergeIntoSummary(catalog: Catalog, added: readonly SummaryCandidate[], failed: ReadonlySet<string>): Promise<void> {
  if (added.length === 0) return;
  const byKey = new Map<string, { vm_key: string; vm_name: string; last_backup_ms: number; last_good_backup_ms: number | null }>();
  for (const b of added) {
    const row = byKey.get(b.vmKey) ?? { vm_key: b.vmKey, vm_name: b.vmName, last_backup_ms: b.timeMs, last_good_backup_ms: null };
    if (b.timeMs >= row.last_backup_ms) Object.assign(row, { vm_name: b.vmName, last_backup_ms: b.timeMs });
    if (!failed.has(b.backupId) && b.timeMs > (row.last_good_backup_ms ?? -Infinity)) row.last_good_backup_ms = b.timeMs;
    byKey.set(b.vmKey, row);
  }
  await catalog.db.insertInto('vm_backup_summary').values([...byKey.values()])
    .onConflict((oc) => oc.column('vm_key').doUpdateSet((eb) => {
      const newer = eb('excluded.last_backup_ms', '>=', eb.ref('vm_backup_summary.last_backup_ms'));
      return {
        vm_name: eb.case().when(newer).then(eb.ref('excluded.vm_name')).else(eb.ref('vm_backup_summary.vm_name')).end(),
        last_backup_ms: eb.case().when(newer).then(eb.ref('excluded.last_backup_ms')).else(eb.ref('vm_backup_summary.last_backup_ms')).end(),
        last_good_backup_ms: eb.case()
          .when(eb.or([eb('vm_backup_summary.last_good_backup_ms', 'is', null), eb('excluded.last_good_backup_ms', '>', eb.ref('vm_backup_summary.last_good_backup_ms'))]))
          .then(eb.ref('excluded.last_good_backup_ms')).else(eb.ref('vm_backup_summary.last_good_backup_ms')).end(),
      };
    }))
    .execute();
}

/** Recomputes the summary of each key from backups (after removals or a verify result). */
export async function recomputeSummary(catalog: Catalog, vmKeys: Iterable<string>): Promise<void> {
  for (const key of new Set(vmKeys)) {
    const newest = await catalog.db.selectFrom('backups').select(['time_ms', 'vm_name'])
      .where('vm_key', '=', key).orderBy('time_ms', 'desc').limit(1).executeTakeFirst();
    if (!newest) {
      await catalog.db.deleteFrom('vm_backup_summary').where('vm_key', '=', key).execute();
      continue;
    }
    const good = await catalog.db.selectFrom('backups').select('time_ms')
      .where('vm_key', '=', key).where('verify_state', '<>', 'failed').orderBy('time_ms', 'desc').limit(1).executeTakeFirst();
    const row = { vm_name: newest.vm_name, last_backup_ms: newest.time_ms, last_good_backup_ms: good?.time_ms ?? null };
    await catalog.db.insertInto('vm_backup_summary').values({ vm_key: key, ...row })
      .onConflict((oc) => oc.column('vm_key').doUpdateSet(row)).execute();
  }
}

/** The VM keys backups were recorded under for `name` (VMs gone from the inventory included). */
export async function summaryKeysNamed(catalog: Catalog, name: string): Promise<string[]> {
  const rows = await catalog.db.selectFrom('vm_backup_summary').select('vm_key')
    .where((eb) => eb.or([eb('vm_name', '=', name), eb('vm_key', '=', name)])).execute();
  return rows.map((r) => r.vm_key);
}
