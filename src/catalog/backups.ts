// The catalog's list of backups: a cache of the repositories' manifests, never the truth.
// Rows are written as jobs finish and rebuilt from a repository's manifests by
// replaceRepositoryBackups; losing the table loses nothing but verify results. A VM is found
// by the manifest's vm key (its UUID, or its name for image backups); a name is turned into
// keys through the VM inventory and the per-VM summary (backup-summary.ts), which every
// change here keeps in step within the same transaction.

import type { Manifest } from '../repository/index.ts';
import type { Catalog } from './open.ts';
import { inTransaction } from './open.ts';
import { decodeCursor, encodeCursor, fromFlag, pageLimit, toFlag, type Page, type PageRequest } from './records.ts';
import type { BackupTable } from './schema.ts';
import { findVms } from './vms.ts';
import { mergeIntoSummary, recomputeSummary, summaryKeysNamed } from './backup-summary.ts';
import { forgetFileIndexes } from './file-indexes.ts';

export type VerifyState = 'unverified' | 'ok' | 'failed';

export interface BackupRecord {
  readonly repository: string;
  readonly backupId: string;
  /** The manifest's vm.key: the VM's UUID when it has one (then vmUuid is the same), else its name. */
  readonly vmKey: string;
  readonly vmUuid: string | null;
  readonly vmName: string;
  readonly host: string;
  readonly timeMs: number;
  /** Sum of the disks' sizes. */
  readonly logicalBytes: number;
  /** Bytes this backup added before compression (changed, not yet stored chunks). */
  readonly newBytes: number;
  /** Bytes this backup added to the repository after compression and encryption. */
  readonly storedBytes: number;
  readonly consistency: Manifest['consistency'];
  readonly incremental: boolean;
  /** Why a full backup read its disks in full, from its manifest; null when incremental or not recorded. */
  readonly fullReason: string | null;
  readonly verifyState: VerifyState;
  readonly verifiedMs: number | null;
}

export type BackupInput = Omit<BackupRecord, 'verifyState' | 'verifiedMs' | 'fullReason'> & { readonly fullReason?: string | null };

const BATCH_ROWS = 500;

export function backupFromManifest(repository: string, m: Manifest): BackupInput {
  return {
    repository, backupId: m.backupId, vmKey: m.vm.key, vmUuid: m.vm.uuid, vmName: m.vm.name, host: m.host,
    timeMs: Date.parse(m.time), logicalBytes: m.disks.reduce((sum, d) => sum + d.sizeBytes, 0),
    newBytes: m.stats.bytesNew, storedBytes: m.stats.bytesStored, consistency: m.consistency, incremental: m.incremental,
    fullReason: m.incremental ? null : m.fallbackReason ?? m.disks.find((d) => d.fallbackReason)?.fallbackReason ?? null,
  };
}

/** Adds or refreshes backups; a known backup keeps its verify result. */
export async function recordBackups(catalog: Catalog, backups: readonly BackupInput[]): Promise<void> {
  const byRepository = Map.groupBy(backups, (b) => b.repository);
  await inTransaction(catalog, async (tx) => {
    for (const [repository, all] of byRepository) {
      for (let i = 0; i < all.length; i += BATCH_ROWS) await upsertBatch(tx, repository, all.slice(i, i + BATCH_ROWS));
    }
  });
}

async function upsertBatch(tx: Catalog, repository: string, batch: readonly BackupInput[]): Promise<void> {
  const known = await tx.db.selectFrom('backups').select(['backup_id', 'vm_key', 'verify_state'])
    .where('repository', '=', repository).where('backup_id', 'in', batch.map((b) => b.backupId)).execute();
  await tx.db.insertInto('backups').values(batch.map(toRow))
    .onConflict((oc) => oc.columns(['repository', 'backup_id']).doUpdateSet((eb) => ({
      vm_key: eb.ref('excluded.vm_key'), vm_key_is_uuid: eb.ref('excluded.vm_key_is_uuid'), vm_name: eb.ref('excluded.vm_name'),
      host: eb.ref('excluded.host'), time_ms: eb.ref('excluded.time_ms'), logical_bytes: eb.ref('excluded.logical_bytes'),
      new_bytes: eb.ref('excluded.new_bytes'), stored_bytes: eb.ref('excluded.stored_bytes'),
      consistency: eb.ref('excluded.consistency'), incremental: eb.ref('excluded.incremental'), full_reason: eb.ref('excluded.full_reason'),
    })))
    .execute();
  // A re-recorded backup keeps its verify state: one that failed verify is no good backup.
  await mergeIntoSummary(tx, batch, new Set(known.filter((r) => r.verify_state === 'failed').map((r) => r.backup_id)));
  // A re-recorded backup whose manifest now names another VM key (rare) leaves its old key to recompute.
  const batchKeys = new Set(batch.map((b) => b.vmKey));
  const stale = known.map((r) => r.vm_key).filter((k) => !batchKeys.has(k));
  if (stale.length > 0) await recomputeSummary(tx, stale);
}

/** Makes the catalog's list for `repository` exactly `backups` (a rebuild from its manifests). */
export async function replaceRepositoryBackups(catalog: Catalog, repository: string, backups: readonly BackupInput[]): Promise<{ added: number; removed: number }> {
  return inTransaction(catalog, async (tx) => {
    const known = new Set((await tx.db.selectFrom('backups').select('backup_id').where('repository', '=', repository).execute()).map((r) => r.backup_id));
    const listed = new Set(backups.map((b) => b.backupId));
    const removed = [...known].filter((id) => !listed.has(id));
    await forgetBackups(tx, repository, removed);
    await recordBackups(tx, backups);
    return { added: [...listed].filter((id) => !known.has(id)).length, removed: removed.length };
  });
}

/** Drops backups from the catalog (after prune, or when a rebuild no longer finds them). */
export async function forgetBackups(catalog: Catalog, repository: string, backupIds: readonly string[]): Promise<void> {
  await inTransaction(catalog, async (tx) => {
    const keys = new Set<string>();
    for (let i = 0; i < backupIds.length; i += BATCH_ROWS) {
      const rows = await tx.db.deleteFrom('backups').where('repository', '=', repository)
        .where('backup_id', 'in', backupIds.slice(i, i + BATCH_ROWS)).returning('vm_key').execute();
      for (const r of rows) keys.add(r.vm_key);
      // A backup's cached file index goes with it.
      await forgetFileIndexes(tx, repository, backupIds.slice(i, i + BATCH_ROWS));
    }
    await recomputeSummary(tx, keys);
  });
}

export async function setVerifyState(catalog: Catalog, repository: string, backupId: string, state: VerifyState): Promise<boolean> {
  return inTransaction(catalog, async (tx) => {
    const row = await tx.db.updateTable('backups').set({ verify_state: state, verified_ms: tx.clock.nowMs() })
      .where('repository', '=', repository).where('backup_id', '=', backupId).returning('vm_key').executeTakeFirst();
    if (row) await recomputeSummary(tx, [row.vm_key]);
    return row !== undefined;
  });
}

/** What the backups of a repository describe in all: bytes of their disks, and bytes each stored new. */
export async function backupTotals(catalog: Catalog, repository: string): Promise<{ logicalBytes: number; newBytes: number }> {
  const row = await catalog.db.selectFrom('backups')
    .select((eb) => [eb.fn.sum<number>('logical_bytes').as('logical'), eb.fn.sum<number>('new_bytes').as('fresh')])
    .where('repository', '=', repository).executeTakeFirst();
  return { logicalBytes: Number(row?.logical ?? 0), newBytes: Number(row?.fresh ?? 0) };
}

/** Ids of the backups in these repositories whose verify state is `state` (for "verify what is new", "never build on a damaged one"). */
export async function backupIdsInVerifyState(catalog: Catalog, repositories: readonly string[], state: VerifyState): Promise<string[]> {
  if (repositories.length === 0) return [];
  const rows = await catalog.db.selectFrom('backups').select('backup_id')
    .where('repository', 'in', [...repositories]).where('verify_state', '=', state).orderBy('time_ms').execute();
  return rows.map((r) => r.backup_id);
}

export async function getBackup(catalog: Catalog, repository: string, backupId: string): Promise<BackupRecord | null> {
  const row = await catalog.db.selectFrom('backups').selectAll()
    .where('repository', '=', repository).where('backup_id', '=', backupId).executeTakeFirst();
  return row ? toRecord(row) : null;
}

export interface BackupFilter extends PageRequest {
  /** A VM name or UUID (or, for image backups, the name they were recorded under). */
  readonly vm?: string;
  readonly repository?: string;
}

/** Newest first, paged by a keyset cursor over (time, repository, backup id). */
export async function listBackups(catalog: Catalog, filter: BackupFilter = {}): Promise<Page<BackupRecord>> {
  const limit = pageLimit(filter);
  let q = catalog.db.selectFrom('backups');
  if (filter.vm !== undefined) q = q.where('vm_key', 'in', await vmKeysOf(catalog, filter.vm));
  if (filter.repository !== undefined) q = q.where('repository', '=', filter.repository);
  const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  let pageQuery = q.selectAll().orderBy('time_ms', 'desc').orderBy('repository', 'desc').orderBy('backup_id', 'desc').limit(limit + 1);
  if (filter.cursor) {
    const [timeMs, repository, backupId] = decodeCursor(filter.cursor, ['number', 'string', 'string']) as [number, string, string];
    pageQuery = pageQuery.where((eb) => eb(eb.refTuple('time_ms', 'repository', 'backup_id'), '<', eb.tuple(timeMs, repository, backupId)));
  }
  const rows = await pageQuery.execute();
  const items = rows.slice(0, limit).map(toRecord);
  const last = items.at(-1);
  return { items, total: Number(total.n), next: rows.length > limit && last ? encodeCursor([last.timeMs, last.repository, last.backupId]) : null };
}

/** The keys backups of `vm` (a name or a UUID) are recorded under: from the inventory and from past backups. */
async function vmKeysOf(catalog: Catalog, vm: string): Promise<string[]> {
  const keys = new Set([...(await findVms(catalog, vm)).map((v) => v.uuid), ...await summaryKeysNamed(catalog, vm)]);
  return keys.size > 0 ? [...keys] : [vm];
}

function toRow(b: BackupInput): BackupTable {
  return {
    repository: b.repository, backup_id: b.backupId, vm_key: b.vmKey, vm_key_is_uuid: toFlag(b.vmUuid !== null), vm_name: b.vmName, host: b.host,
    time_ms: b.timeMs, logical_bytes: b.logicalBytes, new_bytes: b.newBytes, stored_bytes: b.storedBytes,
    consistency: b.consistency, incremental: toFlag(b.incremental), full_reason: b.fullReason ?? null, verify_state: 'unverified', verified_ms: null,
  };
}

function toRecord(row: BackupTable): BackupRecord {
  return {
    repository: row.repository, backupId: row.backup_id, vmKey: row.vm_key, vmUuid: row.vm_key_is_uuid ? row.vm_key : null, vmName: row.vm_name,
    host: row.host, timeMs: row.time_ms, logicalBytes: row.logical_bytes, newBytes: row.new_bytes, storedBytes: row.stored_bytes,
    consistency: row.consistency as BackupRecord['consistency'], incremental: fromFlag(row.incremental), fullReason: row.full_reason ?? null,
    verifyState: row.verify_state as VerifyState, verifiedMs: row.verified_ms,
  };
}
