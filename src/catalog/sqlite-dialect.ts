// A Kysely dialect over Node's built-in node:sqlite (DatabaseSync): Kysely ships SQLite's
// compiler, adapter and introspector but only a better-sqlite3 driver, which needs a native
// build. One DatabaseSync is one connection, so queries take turns through a promise lock;
// a transaction holds the lock from BEGIN to COMMIT. Transactions begin IMMEDIATE: they take
// the write lock up front, so two processes never deadlock upgrading a read lock (which
// SQLite answers with SQLITE_BUSY at once, without waiting for busy_timeout).

import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import {
  CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler,
  type DatabaseConnection, type DatabaseIntrospector, type Dialect, type DialectAdapter, type Driver, type Kysely,
  type QueryCompiler, type QueryResult,
} from 'kysely';

const STATEMENT_CACHE_SIZE = 256;

export class NodeSqliteDialect implements Dialect {
  readonly #database: DatabaseSync;
  constructor(database: DatabaseSync) { this.#database = database; }
  createDriver(): Driver { return new NodeSqliteDriver(this.#database); }
  createQueryCompiler(): QueryCompiler { return new SqliteQueryCompiler(); }
  createAdapter(): DialectAdapter { return new TransactionalDdlSqliteAdapter(); }
  createIntrospector(db: Kysely<any>): DatabaseIntrospector { return new SqliteIntrospector(db); }
}

/**
 * SQLite's DDL is transactional; saying so makes Kysely's Migrator run inside BEGIN
 * IMMEDIATE, which serialises two processes migrating the same file.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean { return true; }
}

class NodeSqliteDriver implements Driver {
  readonly #connection: NodeSqliteConnection;
  #lock: Promise<void> = Promise.resolve();
  #release: (() => void) | null = null;

  constructor(database: DatabaseSync) { this.#connection = new NodeSqliteConnection(database); }
  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise((resolve) => { release = resolve; });
    await previous;
    this.#release = release;
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const release = this.#release;
    this.#release = null;
    release?.();
  }

  async beginTransaction(conn: DatabaseConnection): Promise<void> { await run(conn, 'begin immediate'); }
  async commitTransaction(conn: DatabaseConnection): Promise<void> { await run(conn, 'commit'); }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> { await run(conn, 'rollback'); }
  async savepoint(conn: DatabaseConnection, name: string): Promise<void> { await run(conn, `savepoint ${quote(name)}`); }
  async rollbackToSavepoint(conn: DatabaseConnection, name: string): Promise<void> { await run(conn, `rollback to ${quote(name)}`); }
  async releaseSavepoint(conn: DatabaseConnection, name: string): Promise<void> { await run(conn, `release ${quote(name)}`); }
  async destroy(): Promise<void> { this.#connection.close(); }
}

class NodeSqliteConnection implements DatabaseConnection {
  readonly #database: DatabaseSync;
  /** Prepared statements by SQL text, oldest first (Map keeps insertion order). */
  readonly #statements = new Map<string, StatementSync>();

  constructor(database: DatabaseSync) { this.#database = database; }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.#prepare(query.sql);
    const params = query.parameters as SQLInputValue[];
    if (stmt.columns().length > 0) return { rows: stmt.all(...params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(...params);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // Its own statement: a cached one could be reset by a query issued while this one iterates.
    const stmt = this.#database.prepare(query.sql);
    for (const row of stmt.iterate(...(query.parameters as SQLInputValue[]))) yield { rows: [row as R] };
  }

  close(): void {
    this.#statements.clear();
    if (this.#database.isOpen) this.#database.close();
  }

  #prepare(sql: string): StatementSync {
    let stmt = this.#statements.get(sql);
    if (stmt) {
      this.#statements.delete(sql);
    } else {
      stmt = this.#database.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) this.#statements.delete(this.#statements.keys().next().value!);
    }
    this.#statements.set(sql, stmt);
    return stmt;
  }
}

function run(conn: DatabaseConnection, sql: string): Promise<QueryResult<unknown>> {
  return conn.executeQuery(CompiledQuery.raw(sql));
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;
