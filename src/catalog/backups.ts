// The catalog's list of backups: a cache of the repositories' manifests, never the truth.
// Rows are written as jobs finish and rebuilt from a repository's manifests by
// replaceRepositoryBackups; losing the table loses nothing but verify results. A VM is found
// by the manifest's vm key (its UUID, or its name for image backups); a name is turned into
// keys through the VM inventory.

import type { Manifest } from '../repository/index.ts';
import type { Catalog } from './open.ts';
import { inTransaction } from './open.ts';
import { decodeCursor, encodeCursor, fromFlag, pageLimit, toFlag, type Page, type PageRequest } from './records.ts';
import type { BackupTable } from './schema.ts';
import { findVms } from './vms.ts';

export type VerifyState = 'unverified' | 'ok' | 'failed';

export interface BackupRecord {
  readonly repository: string;
  readonly backupId: string;
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
  readonly verifyState: VerifyState;
  readonly verifiedMs: number | null;
}

export type BackupInput = Omit<BackupRecord, 'verifyState' | 'verifiedMs'>;

const BATCH_ROWS = 500;

export function backupFromManifest(repository: string, m: Manifest): BackupInput {
  return {
    repository, backupId: m.backupId, vmKey: m.vm.key, vmUuid: m.vm.uuid, vmName: m.vm.name, host: m.host,
    timeMs: Date.parse(m.time), logicalBytes: m.disks.reduce((sum, d) => sum + d.sizeBytes, 0),
    newBytes: m.stats.bytesNew, storedBytes: m.stats.bytesStored, consistency: m.consistency, incremental: m.incremental,
  };
}

/** Adds or refreshes backups; a known backup keeps its verify result. */
export async function recordBackups(catalog: Catalog, backups: readonly BackupInput[]): Promise<void> {
  await inTransaction(catalog, async (tx) => {
    for (let i = 0; i < backups.length; i += BATCH_ROWS) {
      const rows = backups.slice(i, i + BATCH_ROWS).map(toRow);
      await tx.db.insertInto('backups').values(rows)
        .onConflict((oc) => oc.columns(['repository', 'backup_id']).doUpdateSet((eb) => ({
          vm_key: eb.ref('excluded.vm_key'), vm_uuid: eb.ref('excluded.vm_uuid'), vm_name: eb.ref('excluded.vm_name'),
          host: eb.ref('excluded.host'), time_ms: eb.ref('excluded.time_ms'), logical_bytes: eb.ref('excluded.logical_bytes'),
          new_bytes: eb.ref('excluded.new_bytes'), stored_bytes: eb.ref('excluded.stored_bytes'),
          consistency: eb.ref('excluded.consistency'), incremental: eb.ref('excluded.incremental'),
        })))
        .execute();
    }
  });
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

export async function forgetBackups(catalog: Catalog, repository: string, backupIds: readonly string[]): Promise<void> {
  for (let i = 0; i < backupIds.length; i += BATCH_ROWS) {
    await catalog.db.deleteFrom('backups').where('repository', '=', repository)
      .where('backup_id', 'in', backupIds.slice(i, i + BATCH_ROWS)).execute();
  }
}

export async function setVerifyState(catalog: Catalog, repository: string, backupId: string, state: VerifyState): Promise<boolean> {
  const result = await catalog.db.updateTable('backups').set({ verify_state: state, verified_ms: catalog.clock.nowMs() })
    .where('repository', '=', repository).where('backup_id', '=', backupId).executeTakeFirst();
  return result.numUpdatedRows > 0n;
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

async function vmKeysOf(catalog: Catalog, vm: string): Promise<string[]> {
  return [...new Set([vm, ...(await findVms(catalog, vm)).map((v) => v.uuid)])];
}

function toRow(b: BackupInput): BackupTable {
  return {
    repository: b.repository, backup_id: b.backupId, vm_key: b.vmKey, vm_uuid: b.vmUuid, vm_name: b.vmName, host: b.host,
    time_ms: b.timeMs, logical_bytes: b.logicalBytes, new_bytes: b.newBytes, stored_bytes: b.storedBytes,
    consistency: b.consistency, incremental: toFlag(b.incremental), verify_state: 'unverified', verified_ms: null,
  };
}

function toRecord(row: BackupTable): BackupRecord {
  return {
    repository: row.repository, backupId: row.backup_id, vmKey: row.vm_key, vmUuid: row.vm_uuid, vmName: row.vm_name,
    host: row.host, timeMs: row.time_ms, logicalBytes: row.logical_bytes, newBytes: row.new_bytes, storedBytes: row.stored_bytes,
    consistency: row.consistency as BackupRecord['consistency'], incremental: fromFlag(row.incremental),
    verifyState: row.verify_state as VerifyState, verifiedMs: row.verified_ms,
  };
}
