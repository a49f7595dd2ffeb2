// Repositories the controller writes to: a name policies refer to, the location (any --repo
// form) and the credentials to open it — the passphrase and the target secrets the CLI reads
// from the environment — kept only as SecretsBox ciphertext. Records never carry the
// credentials: reading them is a separate, deliberate call.

import { VmbakError } from '../core/index.ts';
import { inTransaction, type Catalog } from './open.ts';
import { recomputeSummary } from './backup-summary.ts';
import { fromFlag, toFlag, type ChangeKind } from './records.ts';
import type { RepositoryTable } from './schema.ts';
import { careSpecSchema, defaultCareSpec, type CareSpec } from './care-spec.ts';
import { sealUnlessSame, type SecretsBox } from './secrets.ts';

export interface RepositoryRecord {
  readonly name: string;
  readonly url: string;
  readonly hasCredentials: boolean;
  readonly managedByConfig: boolean;
  /** When it is verified and gc'd, and when it counts as nearly full. */
  readonly care: CareSpec;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface RepositoryCredentials {
  readonly passphrase?: string;
  /** Target secrets by the environment names the CLI reads (VMBAK_SFTP_PASSWORD, AWS_SECRET_ACCESS_KEY, …). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RepositoryInput {
  readonly name: string;
  readonly url: string;
  /** New credentials; null removes them; undefined keeps what is stored. */
  readonly credentials?: RepositoryCredentials | null;
  readonly managedByConfig?: boolean;
  /** The care spec; undefined keeps what is stored (the defaults for a new repository). */
  readonly care?: CareSpec;
}

const purpose = (name: string): string => `repository:${name}`;

export async function upsertRepository(catalog: Catalog, box: SecretsBox, input: RepositoryInput): Promise<ChangeKind> {
  const existing = await catalog.db.selectFrom('repositories').selectAll().where('name', '=', input.name).executeTakeFirst();
  const managed = toFlag(input.managedByConfig ?? false);
  const nowMs = catalog.clock.nowMs();
  if (!existing) {
    const sealed = input.credentials ? box.seal(canonical(input.credentials), purpose(input.name)) : null;
    await catalog.db.insertInto('repositories').values({
      name: input.name, url: input.url, credentials_sealed: sealed, managed_by_config: managed, created_ms: nowMs, updated_ms: nowMs,
      care_json: input.care ? JSON.stringify(input.care) : null,
    }).execute();
    return 'created';
  }
  const sealed = sealedAfter(existing, input, box);
  const care = input.care === undefined ? existing.care_json : JSON.stringify(input.care);
  if (existing.url === input.url && existing.managed_by_config === managed && sealed === existing.credentials_sealed && care === existing.care_json) {
    return 'unchanged';
  }
  await catalog.db.updateTable('repositories')
    .set({ url: input.url, managed_by_config: managed, credentials_sealed: sealed, care_json: care, updated_ms: nowMs })
    .where('name', '=', input.name).execute();
  return 'updated';
}

/** The ciphertext to store: the old one when the credentials did not change (a new seal would differ). */
function sealedAfter(existing: RepositoryTable, input: RepositoryInput, box: SecretsBox): string | null {
  if (input.credentials === undefined) return existing.credentials_sealed;
  if (input.credentials === null) return null;
  return sealUnlessSame(box, existing.credentials_sealed, canonical(input.credentials), purpose(input.name));
}

export async function getRepository(catalog: Catalog, name: string): Promise<RepositoryRecord | null> {
  const row = await catalog.db.selectFrom('repositories').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? toRecord(row) : null;
}

export async function listRepositories(catalog: Catalog): Promise<RepositoryRecord[]> {
  const rows = await catalog.db.selectFrom('repositories').selectAll().orderBy('name').execute();
  return rows.map(toRecord);
}

/** The stored credentials in clear, for opening the repository; never for display. */
export async function readRepositoryCredentials(catalog: Catalog, box: SecretsBox, name: string): Promise<RepositoryCredentials | null> {
  const row = await catalog.db.selectFrom('repositories').select('credentials_sealed').where('name', '=', name).executeTakeFirst();
  if (!row) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name });
  return row.credentials_sealed === null ? null : JSON.parse(box.open(row.credentials_sealed, purpose(name))) as RepositoryCredentials;
}

/** Removes the repository and, with it, the catalog's cached list of its backups (not the backups). */
export async function removeRepository(catalog: Catalog, name: string): Promise<boolean> {
  return inTransaction(catalog, async (tx) => {
    const keys = await tx.db.selectFrom('backups').select('vm_key').distinct().where('repository', '=', name).execute();
    const result = await tx.db.deleteFrom('repositories').where('name', '=', name).executeTakeFirst(); // cascades to backups
    await recomputeSummary(tx, keys.map((k) => k.vm_key));
    return result.numDeletedRows > 0n;
  });
}

function toRecord(row: RepositoryTable): RepositoryRecord {
  return {
    name: row.name, url: row.url, hasCredentials: row.credentials_sealed !== null,
    managedByConfig: fromFlag(row.managed_by_config), createdMs: row.created_ms, updatedMs: row.updated_ms,
    care: row.care_json === null ? defaultCareSpec() : careSpecSchema.parse(JSON.parse(row.care_json)),
  };
}

function canonical(creds: RepositoryCredentials): string {
  const env = creds.env ? Object.fromEntries(Object.entries(creds.env).sort(([a], [b]) => a.localeCompare(b))) : undefined;
  return JSON.stringify({ passphrase: creds.passphrase, env });
}
