// Console users: a name, a role and a scrypt password hash (passwords.ts). Checking a
// password costs the same whether or not the user exists, so timing does not tell names.

import { VmbakError } from '../core/index.ts';
import type { Catalog } from './open.ts';
import { DECOY_PASSWORD_HASH, hashPassword, verifyPassword } from './passwords.ts';
import { fromFlag, toFlag } from './records.ts';
import type { UserTable } from './schema.ts';

export const ROLES = ['admin', 'operator', 'viewer', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** The shortest password the API and `vmbak user create` accept. */
export const MIN_PASSWORD_CHARS = 8;

export interface UserRecord {
  readonly name: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export async function createUser(catalog: Catalog, name: string, role: Role, password: string): Promise<UserRecord> {
  const nowMs = catalog.clock.nowMs();
  const row: UserTable = { name, role, password_hash: await hashPassword(password), disabled: 0, created_ms: nowMs, updated_ms: nowMs };
  const result = await catalog.db.insertInto('users').values(row).onConflict((oc) => oc.column('name').doNothing()).executeTakeFirst();
  if (result.numInsertedOrUpdatedRows !== 1n) throw new VmbakError('CATALOG_CONFLICT', { what: 'user', name, detail: 'exists already' });
  return toRecord(row);
}

export async function setUserPassword(catalog: Catalog, name: string, password: string): Promise<boolean> {
  const result = await catalog.db.updateTable('users')
    .set({ password_hash: await hashPassword(password), updated_ms: catalog.clock.nowMs() }).where('name', '=', name).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function setUserDisabled(catalog: Catalog, name: string, disabled: boolean): Promise<boolean> {
  const result = await catalog.db.updateTable('users')
    .set({ disabled: toFlag(disabled), updated_ms: catalog.clock.nowMs() }).where('name', '=', name).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** The user when `password` is theirs and they are enabled; null otherwise. */
export async function authenticateUser(catalog: Catalog, name: string, password: string): Promise<UserRecord | null> {
  const row = await catalog.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
  const ok = await verifyPassword(row?.password_hash ?? DECOY_PASSWORD_HASH, password);
  return row && ok && !row.disabled ? toRecord(row) : null;
}

export async function listUsers(catalog: Catalog): Promise<UserRecord[]> {
  return (await catalog.db.selectFrom('users').selectAll().orderBy('name').execute()).map(toRecord);
}

export async function removeUser(catalog: Catalog, name: string): Promise<boolean> {
  return (await catalog.db.deleteFrom('users').where('name', '=', name).executeTakeFirst()).numDeletedRows > 0n;
}

const toRecord = (row: UserTable): UserRecord => ({
  name: row.name, role: row.role as Role, disabled: fromFlag(row.disabled), createdMs: row.created_ms, updatedMs: row.updated_ms,
});
