// The catalog on PostgreSQL: Kysely's own PostgreSQL dialect over a pg pool. BIGINT (int8,
// every _ms and _bytes column, count(*)) and NUMERIC (sum()) come back from pg as strings,
// to keep precision beyond 2^53; the catalog's values are milliseconds and byte counts far
// below that, and node:sqlite returns them as numbers — so here they are parsed as numbers
// too, and every query above reads the same types on either database.

import pg from 'pg';
import { PostgresDialect } from 'kysely';

const INT8_OID = 20;
const NUMERIC_OID = 1700;

export interface PostgresCatalogOptions {
  /** Connections in the pool (default 10). */
  readonly maxConnections?: number;
}

export function postgresDialect(url: string, opts: PostgresCatalogOptions = {}): PostgresDialect {
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID || oid === NUMERIC_OID ? Number : pg.types.getTypeParser(oid, format),
  };
  const pool = new pg.Pool({ connectionString: url, max: opts.maxConnections ?? 10, types: types as pg.CustomTypesConfig });
  // An idle connection the server drops (a restart) is an error event on the pool: without a
  // listener it would crash the process; the next query simply takes a new connection.
  pool.on('error', () => {});
  return new PostgresDialect({ pool });
}

/** The URL with any password replaced, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export const isPostgresUrl = (location: string): boolean => /^postgres(ql)?:\/\//i.test(location);
