// The catalog's copy of the repositories' file indexes, so the API searches without reading
// index objects: rows are added when a backup is indexed or the backup list is rebuilt, and
// dropped with the backup. The index objects stay the truth; this is a cache (lose the
// catalog, rebuild, and search answers the same).

import { sql } from 'kysely';
import type { FileIndex, IndexedEntry, IndexedType } from '../repository/index.ts';
import type { Catalog } from './open.ts';
import { inTransaction } from './open.ts';

const BATCH_ROWS = 1000;

export interface CachedIndexRef {
  readonly repository: string;
  readonly backupId: string;
  readonly vmKey: string;
  readonly vmName: string;
  readonly timeMs: number;
}

export interface CachedEntry { readonly ref: CachedIndexRef; readonly fs: string; readonly entry: IndexedEntry }

/** Replaces the cached copy of one backup's index. */
export async function cacheFileIndex(catalog: Catalog, ref: CachedIndexRef, index: FileIndex): Promise<void> {
  await inTransaction(catalog, async (tx) => {
    await dropRows(tx, ref.repository, [ref.backupId]);
    const rows = index.header.filesystems.flatMap((fs, i) => index.entries[i]!.map((e) => ({
      repository: ref.repository, backup_id: ref.backupId, fs: fs.id, path: e.path, name: nameOf(e.path), type: e.type,
      size_bytes: e.sizeBytes, mtime_ms: e.mtimeMs, mode: e.mode, uid: e.uid, gid: e.gid, sha256: e.sha256,
    })));
    for (let i = 0; i < rows.length; i += BATCH_ROWS) await tx.db.insertInto('file_entries').values(rows.slice(i, i + BATCH_ROWS)).execute();
    await tx.db.insertInto('file_indexes').values({
      repository: ref.repository, backup_id: ref.backupId, vm_key: ref.vmKey, vm_name: ref.vmName, time_ms: ref.timeMs,
      entry_count: rows.length, cached_ms: catalog.clock.nowMs(),
    }).execute();
  });
}

/** Whether the catalog holds a copy of a backup's file index (then it is searchable), and of how many entries. */
export async function fileIndexOf(catalog: Catalog, repository: string, backupId: string): Promise<{ entryCount: number; cachedMs: number } | null> {
  const row = await catalog.db.selectFrom('file_indexes').select(['entry_count', 'cached_ms'])
    .where('repository', '=', repository).where('backup_id', '=', backupId).executeTakeFirst();
  return row ? { entryCount: Number(row.entry_count), cachedMs: Number(row.cached_ms) } : null;
}

/** Backups of `repository` the catalog lists but holds no index copy of, with what a copy records. */
export async function listUncachedBackups(catalog: Catalog, repository: string): Promise<CachedIndexRef[]> {
  const rows = await catalog.db.selectFrom('backups as b')
    .leftJoin('file_indexes as i', (j) => j.onRef('i.repository', '=', 'b.repository').onRef('i.backup_id', '=', 'b.backup_id'))
    .select(['b.backup_id', 'b.vm_key', 'b.vm_name', 'b.time_ms'])
    .where('b.repository', '=', repository).where('i.backup_id', 'is', null).execute();
  return rows.map((r) => ({ repository, backupId: r.backup_id, vmKey: r.vm_key, vmName: r.vm_name, timeMs: Number(r.time_ms) }));
}

/** Drops cached indexes of backups the catalog no longer lists. */
export async function dropOrphanFileIndexes(catalog: Catalog): Promise<number> {
  const orphans = await catalog.db.selectFrom('file_indexes').select(['repository', 'backup_id'])
    .where(({ not, exists, selectFrom }) => not(exists(selectFrom('backups').select('backups.backup_id')
      .whereRef('backups.repository', '=', 'file_indexes.repository').whereRef('backups.backup_id', '=', 'file_indexes.backup_id'))))
    .execute();
  await inTransaction(catalog, async (tx) => {
    for (const [repository, rows] of Map.groupBy(orphans, (r) => r.repository)) await dropRows(tx, repository, rows.map((r) => r.backup_id));
  });
  return orphans.length;
}

export interface CachedSearch {
  /** Lower-case GLOB on the file name (SQLite GLOB syntax), narrowing before the caller's exact match. */
  readonly nameGlob: string;
  /** A VM name or key (UUID). */
  readonly vm: string | null;
  readonly sinceMs: number | null;
  readonly limit: number;
}

export async function searchCachedEntries(catalog: Catalog, q: CachedSearch): Promise<CachedEntry[]> {
  let query = catalog.db.selectFrom('file_entries as e')
    .innerJoin('file_indexes as i', (j) => j.onRef('i.repository', '=', 'e.repository').onRef('i.backup_id', '=', 'e.backup_id'))
    .select(['e.repository', 'e.backup_id', 'e.fs', 'e.path', 'e.type', 'e.size_bytes', 'e.mtime_ms', 'e.mode', 'e.uid', 'e.gid', 'e.sha256', 'i.vm_key', 'i.vm_name', 'i.time_ms'])
    .where(sql<boolean>`e.name like ${likeFromGlob(q.nameGlob.toLowerCase())} escape '\\'`);
  if (q.vm !== null) query = query.where((eb) => eb.or([eb('i.vm_key', '=', q.vm!), eb('i.vm_name', '=', q.vm!)]));
  if (q.sinceMs !== null) query = query.where('i.time_ms', '>=', q.sinceMs);
  const rows = await query.limit(q.limit).execute();
  return rows.map((r) => ({
    ref: { repository: r.repository, backupId: r.backup_id, vmKey: r.vm_key, vmName: r.vm_name, timeMs: Number(r.time_ms) },
    fs: r.fs,
    entry: { path: r.path, type: r.type as IndexedType, sizeBytes: Number(r.size_bytes), mtimeMs: Number(r.mtime_ms), mode: r.mode, uid: Number(r.uid), gid: Number(r.gid), sha256: r.sha256 },
  }));
}

/** LIKE (portable to PostgreSQL, unlike GLOB) from `*`/`?`; `\` escapes the LIKE wildcards themselves. */
function likeFromGlob(glob: string): string {
  return glob.replace(/[\\%_]/g, '\\$&').replaceAll('*', '%').replaceAll('?', '_');
}

function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).toLowerCase();
}

/** Drops the cached indexes of these backups (forgotten by the catalog). */
export const forgetFileIndexes = (tx: Catalog, repository: string, backupIds: readonly string[]): Promise<void> => dropRows(tx, repository, backupIds);

async function dropRows(tx: Catalog, repository: string, backupIds: readonly string[]): Promise<void> {
  if (backupIds.length === 0) return;
  await tx.db.deleteFrom('file_entries').where('repository', '=', repository).where('backup_id', 'in', [...backupIds]).execute();
  await tx.db.deleteFrom('file_indexes').where('repository', '=', repository).where('backup_id', 'in', [...backupIds]).execute();
}
