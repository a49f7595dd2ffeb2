// Opens the catalog and brings its schema to the current version. SQLite (node:sqlite) runs
// in WAL mode, so readers never wait for the writer and a second controller process can
// share the file; foreign keys are on (SQLite leaves them off per connection); busy_timeout
// makes a writer wait for another process's write lock instead of failing at once.
// A postgres:// URL opens a PostgreSQL catalog instead (postgres-dialect.ts), for controllers
// that share one: every query above this file is written through Kysely and stays portable,
// and the same migrations build either database.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kysely, Migrator, sql } from 'kysely';
import { VmbakError, describeError, systemClock, type Clock } from '../core/index.ts';
import type { CatalogSchema } from './schema.ts';
import { NodeSqliteDialect } from './sqlite-dialect.ts';
import { isPostgresUrl, postgresDialect, redactedUrl } from './postgres-dialect.ts';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider } from './migrations/index.ts';

/** What every catalog function takes: the database (or an open transaction) and the clock. */
export interface Catalog {
  readonly db: Kysely<CatalogSchema>;
  readonly clock: Clock;
}

export interface OpenCatalog extends Catalog {
  readonly location: string;
  close(): Promise<void>;
}

export interface OpenCatalogOptions {
  readonly clock?: Clock;
  /** How long a write waits for another process's write lock (default 5 s). */
  readonly busyTimeoutMs?: number;
}

/** Opens (creating if needed) the catalog at `location`: a file path, or ":memory:". */
export async function openCatalog(location: string, opts: OpenCatalogOptions = {}): Promise<OpenCatalog> {
  const postgres = isPostgresUrl(location);
  const shown = postgres ? redactedUrl(location) : location;
  const dialect = postgres ? postgresDialect(location) : new NodeSqliteDialect(openSqlite(location, opts.busyTimeoutMs ?? 5000));
  const db = new Kysely<CatalogSchema>({ dialect });
  try {
    if (postgres) await checkConnection(db, shown);
    await migrateCatalog(db, shown);
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, clock: opts.clock ?? systemClock, location: shown, close: () => db.destroy() };
}

/** A server that is down or refuses us is one clear line, not a migration failure. */
async function checkConnection(db: Kysely<CatalogSchema>, location: string): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    throw new VmbakError('CATALOG_OPEN_FAILED', { location, detail: describeError(err) }, { cause: err });
  }
}

function openSqlite(location: string, busyTimeoutMs: number): DatabaseSync {
  try {
    if (location !== ':memory:') mkdirSync(dirname(location), { recursive: true });
    const database = new DatabaseSync(location, { timeout: busyTimeoutMs });
    database.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    database.exec('PRAGMA journal_mode = WAL');
    database.exec('PRAGMA foreign_keys = ON');
    database.exec('PRAGMA cache_size = -65536'); // 64 MiB of pages (allocated as used): index interiors stay hot
    return database;
  } catch (err) {
    throw new VmbakError('CATALOG_OPEN_FAILED', { location, detail: describeError(err) }, { cause: err });
  }
}

async function migrateCatalog(db: Kysely<CatalogSchema>, location: string): Promise<void> {
  const migrator = new Migrator({
    db, provider: migrationProvider, migrationTableName: MIGRATION_TABLE, migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
  const { error } = await migrator.migrateToLatest();
  if (!error) return;
  const known = Object.keys(await migrationProvider.getMigrations());
  const applied = await appliedMigrations(db);
  const unknown = applied.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new VmbakError('CATALOG_SCHEMA_NEWER', { location, version: unknown.at(-1)!, known: known.at(-1)! });
  }
  throw new VmbakError('CATALOG_MIGRATION_FAILED', { location, detail: describeError(error) }, { cause: error });
}

async function appliedMigrations(db: Kysely<CatalogSchema>): Promise<string[]> {
  try {
    const { rows } = await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(db);
    return rows.map((r) => r.name);
  } catch {
    return [];
  }
}

/**
 * Runs `fn` in one transaction (or inside the caller's, when `catalog` already is one).
 * Inside, use only `tx`: the transaction holds the one connection, so a query through the
 * outer catalog would wait for it forever.
 */
export function inTransaction<T>(catalog: Catalog, fn: (tx: Catalog) => Promise<T>): Promise<T> {
  if (catalog.db.isTransaction) return fn(catalog);
  return catalog.db.transaction().execute((trx) => fn({ db: trx, clock: catalog.clock }));
}
