// The few places where SQLite and PostgreSQL need different DDL, in one file so that
// migrations stay one text for both: an auto-numbered id (SQLite's INTEGER PRIMARY KEY is its
// rowid; PostgreSQL wants an identity column).

import { PostgresAdapter, type CreateTableBuilder, type Kysely } from 'kysely';

export function isPostgres(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** Adds an auto-numbered primary key column `id`. */
export function addSerialId<T extends string>(db: Kysely<any>, table: CreateTableBuilder<T, never>): CreateTableBuilder<T, 'id'> {
  return isPostgres(db)
    ? table.addColumn('id', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
    : table.addColumn('id', 'integer', (c) => c.primaryKey());
}
