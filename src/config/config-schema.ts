// The config file's shape (docs/config.md describes every field): repositories, policies and
// alerts, built from the catalog's own spec schemas so that what the file accepts is exactly
// what the catalog stores. Secrets are never inline: the file names files that hold them
// (passphraseFile, credentialsFile, passwordFile, secretFile). Names must be unique and every
// reference (a policy's repositories, a rule's channels) must name something in the file.

import { z } from 'zod';
import { parseDuration } from '../core/index.ts';
import {
  alertRuleSpecSchema, careSpecSchema, checkPolicySpec, policySpecFields, smtpChannelSpecSchema, webhookChannelSpecSchema,
} from '../catalog/index.ts';

const name = z.string().trim().min(1).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'use letters, digits, ".", "_" and "-"' });
const filePath = z.string().min(1);

const repositorySchema = z.strictObject({
  name,
  url: z.string().min(1),
  passphraseFile: filePath.optional(),
  credentialsFile: filePath.optional(),
  care: careSpecSchema.optional(),
});

const policySchema = z.strictObject({ name, enabled: z.boolean().default(true), ...policySpecFields }).superRefine(checkPolicySpec);

const channelSchema = z.discriminatedUnion('type', [
  smtpChannelSpecSchema.extend({ name, passwordFile: filePath.optional() }),
  webhookChannelSpecSchema.extend({ name, secretFile: filePath.optional() }),
]);

const ruleSchema = alertRuleSpecSchema.extend({ name: name.optional() });

const alertsSchema = z.strictObject({
  channels: z.array(channelSchema).default([]),
  rules: z.array(ruleSchema).default([]),
  dedupWindow: z.string().refine((s) => (parseDuration(s) ?? 0) > 0, { error: 'give a duration such as 30m or 1h' }).default('1h'),
});

const configObject = z.strictObject({
  repositories: z.array(repositorySchema),
  policies: z.array(policySchema),
  alerts: alertsSchema.default({ channels: [], rules: [], dedupWindow: '1h' }),
});

export const configSchema = configObject.superRefine(checkReferences);

export type VmbakConfig = z.output<typeof configSchema>;
export type RepositoryConfig = VmbakConfig['repositories'][number];
export type PolicyConfig = VmbakConfig['policies'][number];
export type ChannelConfig = VmbakConfig['alerts']['channels'][number];
export type RuleConfig = VmbakConfig['alerts']['rules'][number];

function checkReferences(config: z.output<typeof configObject>, ctx: z.core.$RefinementCtx): void {
  unique(config.repositories, ['repositories'], ctx);
  unique(config.policies, ['policies'], ctx);
  unique(config.alerts.channels, ['alerts', 'channels'], ctx);
  unique(config.alerts.rules.filter((r) => r.name !== undefined) as { name: string }[], ['alerts', 'rules'], ctx);
  const repositories = new Set(config.repositories.map((r) => r.name));
  config.policies.forEach((p, i) => {
    for (const field of ['repositories', 'copyTo'] as const) {
      p[field].forEach((repo, j) => {
        if (!repositories.has(repo)) ctx.addIssue({ code: 'custom', path: ['policies', i, field, j], message: `no repository named ${repo} in this file` });
      });
    }
  });
  const channels = new Set(config.alerts.channels.map((c) => c.name));
  config.alerts.rules.forEach((r, i) => r.channels.forEach((channel, j) => {
    if (!channels.has(channel)) ctx.addIssue({ code: 'custom', path: ['alerts', 'rules', i, 'channels', j], message: `no channel named ${channel} in this file` });
  }));
}

function unique(items: readonly { name: string }[], path: (string | number)[], ctx: z.core.$RefinementCtx): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    if (seen.has(item.name)) ctx.addIssue({ code: 'custom', path: [...path, i, 'name'], message: `${item.name} is named twice` });
    seen.add(item.name);
  });
}
