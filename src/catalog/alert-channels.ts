// Alert channels and the rules that route events to them. A channel's secret (SMTP password,
// webhook signing secret) is stored sealed and read only by the sender; records say only
// whether one is set. Like policies, channels and rules from the config file are marked so.

import type { Catalog } from './open.ts';
import { alertChannelSpecSchema, alertRuleSpecSchema, type AlertChannelSpec, type AlertChannelSpecInput, type AlertRuleSpec } from './alert-specs.ts';
import { fromFlag, toFlag, type ChangeKind } from './records.ts';
import type { AlertChannelTable, AlertRuleTable } from './schema.ts';
import { sealUnlessSame, type SecretsBox } from './secrets.ts';

export interface AlertChannelRecord {
  readonly name: string;
  readonly spec: AlertChannelSpec;
  readonly hasSecret: boolean;
  readonly managedByConfig: boolean;
}

export interface AlertChannelInput {
  readonly name: string;
  readonly spec: AlertChannelSpecInput;
  /** New secret; null removes it; undefined keeps what is stored. */
  readonly secret?: string | null;
  readonly managedByConfig?: boolean;
}

export interface AlertRuleRecord extends AlertRuleSpec {
  readonly name: string;
  readonly managedByConfig: boolean;
}

const purpose = (name: string): string => `alert-channel:${name}`;

export async function upsertAlertChannel(catalog: Catalog, box: SecretsBox, input: AlertChannelInput): Promise<ChangeKind> {
  const spec = alertChannelSpecSchema.parse(input.spec);
  const existing = await catalog.db.selectFrom('alert_channels').selectAll().where('name', '=', input.name).executeTakeFirst();
  const secret = input.secret === undefined ? (existing?.secret_sealed ?? null)
    : input.secret === null ? null : sealUnlessSame(box, existing?.secret_sealed ?? null, input.secret, purpose(input.name));
  const row = { type: spec.type, spec_json: JSON.stringify(spec), secret_sealed: secret, managed_by_config: toFlag(input.managedByConfig ?? false) };
  const nowMs = catalog.clock.nowMs();
  if (!existing) {
    await catalog.db.insertInto('alert_channels').values({ name: input.name, ...row, created_ms: nowMs, updated_ms: nowMs }).execute();
    return 'created';
  }
  if (existing.spec_json === row.spec_json && existing.secret_sealed === row.secret_sealed && existing.managed_by_config === row.managed_by_config) {
    return 'unchanged';
  }
  await catalog.db.updateTable('alert_channels').set({ ...row, updated_ms: nowMs }).where('name', '=', input.name).execute();
  return 'updated';
}

export async function listAlertChannels(catalog: Catalog): Promise<AlertChannelRecord[]> {
  return (await catalog.db.selectFrom('alert_channels').selectAll().orderBy('name').execute()).map(toChannel);
}

export async function getAlertChannel(catalog: Catalog, name: string): Promise<AlertChannelRecord | null> {
  const row = await catalog.db.selectFrom('alert_channels').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? toChannel(row) : null;
}

/** The channel's secret in clear, for signing or logging in; null when it has none. */
export async function readAlertChannelSecret(catalog: Catalog, box: SecretsBox, name: string): Promise<string | null> {
  const row = await catalog.db.selectFrom('alert_channels').select('secret_sealed').where('name', '=', name).executeTakeFirst();
  return row?.secret_sealed ? box.open(row.secret_sealed, purpose(name)) : null;
}

export async function removeAlertChannel(catalog: Catalog, name: string): Promise<boolean> {
  return (await catalog.db.deleteFrom('alert_channels').where('name', '=', name).executeTakeFirst()).numDeletedRows > 0n;
}

export async function upsertAlertRule(catalog: Catalog, name: string, spec: AlertRuleSpec, managedByConfig = false): Promise<ChangeKind> {
  const parsed = alertRuleSpecSchema.parse(spec);
  const row = { events_json: JSON.stringify(parsed.events), channels_json: JSON.stringify(parsed.channels), managed_by_config: toFlag(managedByConfig) };
  const existing = await catalog.db.selectFrom('alert_rules').selectAll().where('name', '=', name).executeTakeFirst();
  const nowMs = catalog.clock.nowMs();
  if (!existing) {
    await catalog.db.insertInto('alert_rules').values({ name, ...row, created_ms: nowMs, updated_ms: nowMs }).execute();
    return 'created';
  }
  if (existing.events_json === row.events_json && existing.channels_json === row.channels_json && existing.managed_by_config === row.managed_by_config) {
    return 'unchanged';
  }
  await catalog.db.updateTable('alert_rules').set({ ...row, updated_ms: nowMs }).where('name', '=', name).execute();
  return 'updated';
}

export async function listAlertRules(catalog: Catalog): Promise<AlertRuleRecord[]> {
  return (await catalog.db.selectFrom('alert_rules').selectAll().orderBy('name').execute()).map(toRule);
}

export async function removeAlertRule(catalog: Catalog, name: string): Promise<boolean> {
  return (await catalog.db.deleteFrom('alert_rules').where('name', '=', name).executeTakeFirst()).numDeletedRows > 0n;
}

const toChannel = (row: AlertChannelTable): AlertChannelRecord => ({
  name: row.name, spec: alertChannelSpecSchema.parse(JSON.parse(row.spec_json)), hasSecret: row.secret_sealed !== null,
  managedByConfig: fromFlag(row.managed_by_config),
});

const toRule = (row: AlertRuleTable): AlertRuleRecord => ({
  name: row.name, events: JSON.parse(row.events_json) as AlertRuleSpec['events'],
  channels: JSON.parse(row.channels_json) as string[], managedByConfig: fromFlag(row.managed_by_config),
});
