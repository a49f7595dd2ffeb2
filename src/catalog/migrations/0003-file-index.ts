// The catalog's cache of the repositories' file indexes, for search without reading index
// objects: one row per indexed backup, one row per entry. `name` is the entry's file name in
// lower case, the column "find invoice.pdf" looks up. Rebuilt from the index objects at will.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  await s.createTable('file_indexes')
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('backup_id', 'text', (c) => c.notNull())
    .addColumn('vm_key', 'text', (c) => c.notNull())
    .addColumn('vm_name', 'text', (c) => c.notNull())
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('entry_count', 'bigint', (c) => c.notNull())
    .addColumn('cached_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('file_indexes_pk', ['repository', 'backup_id'])
    .execute();
  await s.createTable('file_entries')
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('backup_id', 'text', (c) => c.notNull())
    .addColumn('fs', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint', (c) => c.notNull())
    .addColumn('mtime_ms', 'bigint', (c) => c.notNull())
    .addColumn('mode', 'integer', (c) => c.notNull())
    .addColumn('uid', 'bigint', (c) => c.notNull())
    .addColumn('gid', 'bigint', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .execute();
  await s.createIndex('file_entries_name').on('file_entries').columns(['name']).execute();
  await s.createIndex('file_entries_backup').on('file_entries').columns(['repository', 'backup_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('file_entries').execute();
  await db.schema.dropTable('file_indexes').execute();
}
