// Policies: a spec (policy-spec.ts), whether it is enabled (a disabled policy stops
// scheduling but its RPO keeps being watched), and whether the config file owns it (then the
// API shows it read-only and applyConfig may change or remove it). Specs are stored as the
// schema's output and read back through the schema, so a stored policy is always runnable.

import type { Catalog } from './open.ts';
import { policySpecSchema, rpoMsOf, type PolicySpec, type PolicySpecInput } from './policy-spec.ts';
import { fromFlag, toFlag, type ChangeKind } from './records.ts';
import type { PolicyTable } from './schema.ts';

export interface PolicyRecord {
  readonly name: string;
  readonly spec: PolicySpec;
  readonly enabled: boolean;
  readonly managedByConfig: boolean;
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface PolicyInput {
  readonly name: string;
  readonly spec: PolicySpecInput;
  readonly enabled?: boolean;
  readonly managedByConfig?: boolean;
}

/** Creates or replaces a policy; the spec is validated (a ZodError names the field). */
export async function upsertPolicy(catalog: Catalog, input: PolicyInput): Promise<ChangeKind> {
  const spec = policySpecSchema.parse(input.spec);
  const specJson = JSON.stringify(spec);
  const rpoMs = rpoMsOf(spec);
  const enabled = toFlag(input.enabled ?? true);
  const managed = toFlag(input.managedByConfig ?? false);
  const existing = await catalog.db.selectFrom('policies').selectAll().where('name', '=', input.name).executeTakeFirst();
  const nowMs = catalog.clock.nowMs();
  if (!existing) {
    await catalog.db.insertInto('policies').values({
      name: input.name, spec_json: specJson, rpo_ms: rpoMs, enabled, managed_by_config: managed, created_ms: nowMs, updated_ms: nowMs,
    }).execute();
    return 'created';
  }
  if (existing.spec_json === specJson && existing.enabled === enabled && existing.managed_by_config === managed) return 'unchanged';
  await catalog.db.updateTable('policies')
    .set({ spec_json: specJson, rpo_ms: rpoMs, enabled, managed_by_config: managed, updated_ms: nowMs })
    .where('name', '=', input.name).execute();
  return 'updated';
}

export async function setPolicyEnabled(catalog: Catalog, name: string, enabled: boolean): Promise<boolean> {
  const result = await catalog.db.updateTable('policies')
    .set({ enabled: toFlag(enabled), updated_ms: catalog.clock.nowMs() })
    .where('name', '=', name).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function getPolicy(catalog: Catalog, name: string): Promise<PolicyRecord | null> {
  const row = await catalog.db.selectFrom('policies').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? toRecord(row) : null;
}

export async function listPolicies(catalog: Catalog): Promise<PolicyRecord[]> {
  return (await catalog.db.selectFrom('policies').selectAll().orderBy('name').execute()).map(toRecord);
}

/** Removes a policy and its schedule claims; its jobs keep the policy's name. */
export async function removePolicy(catalog: Catalog, name: string): Promise<boolean> {
  const result = await catalog.db.deleteFrom('policies').where('name', '=', name).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

function toRecord(row: PolicyTable): PolicyRecord {
  return {
    name: row.name, spec: policySpecSchema.parse(JSON.parse(row.spec_json)), enabled: fromFlag(row.enabled),
    managedByConfig: fromFlag(row.managed_by_config), createdMs: row.created_ms, updatedMs: row.updated_ms,
  };
}
