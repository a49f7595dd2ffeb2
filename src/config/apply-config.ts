// Makes the catalog say what the config file says: repositories, policies, alert channels
// and rules from the file are upserted and marked managed by it; managed ones the file no
// longer has are removed; what was made through the API is left alone (unless the file now
// claims its name). One transaction, so a reader never sees half a config. Applying the same
// file twice changes nothing — the report says so, which is what GitOps tooling checks.

import {
  inTransaction, listAlertChannels, listAlertRules, listPolicies, listRepositories, removeAlertChannel, removeAlertRule,
  defaultCareSpec, removePolicy, removeRepository, upsertAlertChannel, upsertAlertRule, upsertPolicy, upsertRepository,
  type AlertChannelSpec, type Catalog, type ChangeKind, type SecretsBox,
} from '../catalog/index.ts';
import type { ChannelConfig } from './config-schema.ts';
import type { LoadedConfig } from './load-config.ts';

export interface ApplyReport {
  /** "policy web", "repository local", "alert channel ops", "alert rule rule-1" … */
  readonly created: string[];
  readonly updated: string[];
  readonly removed: string[];
  readonly unchanged: number;
}

export async function applyConfig(catalog: Catalog, box: SecretsBox, loaded: LoadedConfig): Promise<ApplyReport> {
  const report = { created: [] as string[], updated: [] as string[], removed: [] as string[], unchanged: 0 };
  const note = (what: string, change: ChangeKind): void => {
    if (change === 'unchanged') report.unchanged++;
    else report[change].push(what);
  };
  const { config } = loaded;
  await inTransaction(catalog, async (tx) => {
    for (const repo of config.repositories) {
      note(`repository ${repo.name}`, await upsertRepository(tx, box, {
        name: repo.name, url: repo.url, credentials: loaded.credentials.get(repo.name) ?? null, managedByConfig: true,
        care: repo.care ?? defaultCareSpec(),
      }));
    }
    for (const { name, enabled, ...spec } of config.policies) {
      note(`policy ${name}`, await upsertPolicy(tx, { name, enabled, spec, managedByConfig: true }));
    }
    for (const channel of config.alerts.channels) {
      const { name } = channel;
      note(`alert channel ${name}`, await upsertAlertChannel(tx, box, {
        name, spec: channelSpec(channel), secret: loaded.channelSecrets.get(name) ?? null, managedByConfig: true,
      }));
    }
    const ruleNames = config.alerts.rules.map((r, i) => r.name ?? `rule-${i + 1}`);
    for (const [i, rule] of config.alerts.rules.entries()) {
      note(`alert rule ${ruleNames[i]}`, await upsertAlertRule(tx, ruleNames[i]!, { events: rule.events, channels: rule.channels }, true));
    }
    await removeUnlisted(tx, report.removed, 'policy', await listPolicies(tx), config.policies.map((p) => p.name), removePolicy);
    await removeUnlisted(tx, report.removed, 'repository', await listRepositories(tx), config.repositories.map((r) => r.name), removeRepository);
    await removeUnlisted(tx, report.removed, 'alert rule', await listAlertRules(tx), ruleNames, removeAlertRule);
    await removeUnlisted(tx, report.removed, 'alert channel', await listAlertChannels(tx), config.alerts.channels.map((c) => c.name), removeAlertChannel);
  });
  return report;
}

async function removeUnlisted(
  tx: Catalog, removed: string[], kind: string, existing: readonly { name: string; managedByConfig: boolean }[],
  listed: readonly string[], remove: (tx: Catalog, name: string) => Promise<boolean>,
): Promise<void> {
  for (const item of existing) {
    if (item.managedByConfig && !listed.includes(item.name) && await remove(tx, item.name)) removed.push(`${kind} ${item.name}`);
  }
}

/** The channel as the catalog stores it: without its name and the secret file's path. */
function channelSpec(channel: ChannelConfig): AlertChannelSpec {
  if (channel.type === 'smtp') {
    const { name: _name, passwordFile: _file, ...spec } = channel;
    return spec;
  }
  const { name: _name, secretFile: _file, ...spec } = channel;
  return spec;
}
