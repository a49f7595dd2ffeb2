// API tokens: "vmbak_<id>_<secret>", shown once at creation. The catalog keeps the id (to
// find the row) and a SHA-256 of the 32-byte random secret — a hash is enough for a secret
// with that much entropy, and it makes a token check one index lookup, fast enough for
// every request. A token written by `vmbak token create` into the shared catalog works on a
// running server at once, since each request reads it from there.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { VmbakError } from '../core/index.ts';
import type { Catalog } from './open.ts';
import type { ApiTokenTable } from './schema.ts';
import type { Role } from './users.ts';

/** last_used_ms is refreshed at most this often, so a busy token does not write on every request. */
const LAST_USED_GRANULARITY_MS = 60_000;

export interface ApiTokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly createdMs: number;
  readonly createdBy: string | null;
  readonly lastUsedMs: number | null;
  readonly expiresMs: number | null;
  readonly revokedMs: number | null;
}

export interface NewApiToken {
  readonly name: string;
  readonly role: Role;
  readonly expiresMs?: number | null;
  readonly createdBy?: string | null;
}

const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Creates a token; `token` is the only time its secret is available. */
export async function createApiToken(catalog: Catalog, input: NewApiToken): Promise<{ token: string; record: ApiTokenRecord }> {
  const id = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  const secret = randomBytes(32).toString('base64url');
  const row: ApiTokenTable = {
    id, name: input.name, role: input.role, secret_hash: hashSecret(secret), created_ms: catalog.clock.nowMs(),
    created_by: input.createdBy ?? null, last_used_ms: null, expires_ms: input.expiresMs ?? null, revoked_ms: null,
  };
  const result = await catalog.db.insertInto('api_tokens').values(row).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
  if (result.numInsertedOrUpdatedRows !== 1n) throw new VmbakError('CATALOG_CONFLICT', { what: 'token', name: input.name, detail: 'exists already' });
  return { token: `vmbak_${id}_${secret}`, record: toRecord(row) };
}

/** The token's record when `token` is valid, not revoked and not expired; null otherwise. */
export async function authenticateToken(catalog: Catalog, token: string): Promise<ApiTokenRecord | null> {
  const m = /^vmbak_([A-Za-z0-9]+)_([A-Za-z0-9_-]+)$/.exec(token);
  if (!m) return null;
  const row = await catalog.db.selectFrom('api_tokens').selectAll().where('id', '=', m[1]!).executeTakeFirst();
  if (!row) return null;
  const given = Buffer.from(hashSecret(m[2]!), 'hex');
  if (!timingSafeEqual(given, Buffer.from(row.secret_hash, 'hex'))) return null;
  const nowMs = catalog.clock.nowMs();
  if (row.revoked_ms !== null || (row.expires_ms !== null && row.expires_ms <= nowMs)) return null;
  if (row.last_used_ms === null || nowMs - row.last_used_ms >= LAST_USED_GRANULARITY_MS) {
    await catalog.db.updateTable('api_tokens').set({ last_used_ms: nowMs }).where('id', '=', row.id).execute();
    row.last_used_ms = nowMs;
  }
  return toRecord(row);
}

export async function revokeApiToken(catalog: Catalog, id: string): Promise<boolean> {
  const result = await catalog.db.updateTable('api_tokens').set({ revoked_ms: catalog.clock.nowMs() })
    .where('id', '=', id).where('revoked_ms', 'is', null).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Deletes tokens that expired before `beforeMs` (login sessions pile up otherwise); returns how many. */
export async function deleteExpiredApiTokens(catalog: Catalog, beforeMs: number): Promise<number> {
  const result = await catalog.db.deleteFrom('api_tokens').where('expires_ms', 'is not', null).where('expires_ms', '<', beforeMs).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function listApiTokens(catalog: Catalog): Promise<ApiTokenRecord[]> {
  return (await catalog.db.selectFrom('api_tokens').selectAll().orderBy('name').execute()).map(toRecord);
}

const toRecord = (row: ApiTokenTable): ApiTokenRecord => ({
  id: row.id, name: row.name, role: row.role as Role, createdMs: row.created_ms, createdBy: row.created_by,
  lastUsedMs: row.last_used_ms, expiresMs: row.expires_ms, revokedMs: row.revoked_ms,
});
