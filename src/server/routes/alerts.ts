// Alert channels (SMTP, webhook) and the rules that route events to them, plus the record of
// deliveries and a "send test" per channel. A channel's secret — the SMTP password, the
// webhook signing secret — is write-only: set or replace it, or remove it with null; answers
// say only `hasSecret`. Channels and rules the config file declares are read-only.

import { z } from 'zod';
import {
  alertRuleSpecSchema, getAlertChannel, listAlertChannels, listAlertRules, listDeliveries, removeAlertChannel, removeAlertRule,
  smtpChannelSpecSchema, upsertAlertChannel, upsertAlertRule, webhookChannelSpecSchema, type AlertChannelRecord,
} from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import type { ServerDeps } from '../deps.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { channelSchema, deliverySchema, nameParams, resourceName, ruleSchema } from '../schemas.ts';

const password = z.string().min(1).nullable().optional().describe('the SMTP password (write-only; omitted: keep, null: remove)');
const secret = z.string().min(1).nullable().optional().describe('the signing secret (write-only; omitted: keep, null: remove)');
const channelUpdate = z.discriminatedUnion('type', [smtpChannelSpecSchema.extend({ password }), webhookChannelSpecSchema.extend({ secret })]);
const channelCreate = z.discriminatedUnion('type', [
  smtpChannelSpecSchema.extend({ name: resourceName, password }), webhookChannelSpecSchema.extend({ name: resourceName, secret }),
]);
const ruleUpdate = alertRuleSpecSchema;
const ruleCreate = alertRuleSpecSchema.extend({ name: resourceName });

async function editable<T extends { managedByConfig: boolean }>(what: string, name: string, find: () => Promise<T | undefined | null>): Promise<T> {
  const item = await find();
  if (!item) throw new VmbakError('CATALOG_NOT_FOUND', { what, name });
  if (item.managedByConfig) throw new VmbakError('MANAGED_BY_CONFIG', { what, name });
  return item;
}

async function saveChannel(deps: ServerDeps, name: string, body: z.output<typeof channelUpdate>): Promise<AlertChannelRecord> {
  const { catalog, secrets } = deps.controller;
  const { password: pw, secret: sc, ...spec } = { password: undefined, secret: undefined, ...body };
  await upsertAlertChannel(catalog, secrets, { name, spec, secret: body.type === 'smtp' ? pw : sc });
  return (await getAlertChannel(catalog, name))!;
}

async function saveRule(deps: ServerDeps, name: string, body: z.output<typeof ruleUpdate>): Promise<z.input<typeof ruleSchema>> {
  const { catalog } = deps.controller;
  const channels = new Set((await listAlertChannels(catalog)).map((c) => c.name));
  body.channels.forEach((channel, i) => {
    if (!channels.has(channel)) throw new VmbakError('INVALID_REQUEST', { field: `body.channels[${i}]`, detail: `no alert channel named ${channel}` });
  });
  await upsertAlertRule(catalog, name, body);
  return (await listAlertRules(catalog)).find((r) => r.name === name)!;
}

const findRule = async (deps: ServerDeps, name: string) => (await listAlertRules(deps.controller.catalog)).find((r) => r.name === name);

export const alertRoutes = [
  route({
    method: 'GET', url: '/alerts/channels', access: 'viewer', tags: ['alerts'], summary: 'Alert channels (without secrets)',
    query: z.strictObject(pageQueryFields), response: pageOf(channelSchema),
    async handler({ deps, query }) { return pageArray(await listAlertChannels(deps.controller.catalog), (c) => c.name, query); },
  }),
  route({
    method: 'GET', url: '/alerts/channels/:name', access: 'viewer', tags: ['alerts'], summary: 'One alert channel (without its secret)',
    params: nameParams, response: channelSchema,
    async handler({ deps, params }) {
      const channel = await getAlertChannel(deps.controller.catalog, params.name);
      if (!channel) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'alert channel', name: params.name });
      return channel;
    },
  }),
  route({
    method: 'POST', url: '/alerts/channels', access: 'admin', tags: ['alerts'], audit: 'alert-channel.create', status: 201,
    summary: 'Add an alert channel', body: channelCreate, response: channelSchema,
    async handler({ deps, body }) {
      const { name, ...rest } = body;
      if (await getAlertChannel(deps.controller.catalog, name)) throw new VmbakError('CATALOG_CONFLICT', { what: 'alert channel', name, detail: 'exists already' });
      return saveChannel(deps, name, rest);
    },
  }),
  route({
    method: 'PUT', url: '/alerts/channels/:name', access: 'admin', tags: ['alerts'], audit: 'alert-channel.update',
    summary: 'Replace an alert channel (not one the config file manages)', params: nameParams, body: channelUpdate, response: channelSchema,
    async handler({ deps, params, body }) {
      await editable('alert channel', params.name, () => getAlertChannel(deps.controller.catalog, params.name));
      return saveChannel(deps, params.name, body);
    },
  }),
  route({
    method: 'DELETE', url: '/alerts/channels/:name', access: 'admin', tags: ['alerts'], audit: 'alert-channel.delete',
    summary: 'Delete an alert channel no rule names (not one the config file manages)', params: nameParams,
    async handler({ deps, params }) {
      const { catalog } = deps.controller;
      await editable('alert channel', params.name, () => getAlertChannel(catalog, params.name));
      const rule = (await listAlertRules(catalog)).find((r) => r.channels.includes(params.name));
      if (rule) throw new VmbakError('CATALOG_CONFLICT', { what: 'alert channel', name: params.name, detail: `is named by rule ${rule.name}; change the rule first` });
      await removeAlertChannel(catalog, params.name);
    },
  }),
  route({
    method: 'POST', url: '/alerts/channels/:name/test', access: 'admin', tags: ['alerts'], audit: 'alert-channel.test',
    summary: 'Send a test message now (502 with the reason when it is not delivered)', params: nameParams,
    response: z.object({ deliveryId: z.number().int() }),
    async handler({ deps, params }) { return { deliveryId: await deps.controller.notifier.sendTest(params.name) }; },
  }),
  route({
    method: 'GET', url: '/alerts/rules', access: 'viewer', tags: ['alerts'], summary: 'Alert rules',
    query: z.strictObject(pageQueryFields), response: pageOf(ruleSchema),
    async handler({ deps, query }) { return pageArray(await listAlertRules(deps.controller.catalog), (r) => r.name, query); },
  }),
  route({
    method: 'POST', url: '/alerts/rules', access: 'admin', tags: ['alerts'], audit: 'alert-rule.create', status: 201,
    summary: 'Add an alert rule', body: ruleCreate, response: ruleSchema,
    async handler({ deps, body }) {
      const { name, ...rest } = body;
      if (await findRule(deps, name)) throw new VmbakError('CATALOG_CONFLICT', { what: 'alert rule', name, detail: 'exists already' });
      return saveRule(deps, name, rest);
    },
  }),
  route({
    method: 'PUT', url: '/alerts/rules/:name', access: 'admin', tags: ['alerts'], audit: 'alert-rule.update',
    summary: 'Replace an alert rule (not one the config file manages)', params: nameParams, body: ruleUpdate, response: ruleSchema,
    async handler({ deps, params, body }) {
      await editable('alert rule', params.name, () => findRule(deps, params.name));
      return saveRule(deps, params.name, body);
    },
  }),
  route({
    method: 'DELETE', url: '/alerts/rules/:name', access: 'admin', tags: ['alerts'], audit: 'alert-rule.delete',
    summary: 'Delete an alert rule (not one the config file manages)', params: nameParams,
    async handler({ deps, params }) {
      await editable('alert rule', params.name, () => findRule(deps, params.name));
      await removeAlertRule(deps.controller.catalog, params.name);
    },
  }),
  route({
    method: 'GET', url: '/alerts/deliveries', access: 'viewer', tags: ['alerts'], summary: 'Alerts sent, newest first: delivered or not, and why',
    query: z.strictObject({ ...pageQueryFields, channel: z.string().min(1).optional(), state: z.enum(['pending', 'delivered', 'undelivered']).optional() }),
    response: pageOf(deliverySchema),
    async handler({ deps, query }) { return listDeliveries(deps.controller.catalog, query); },
  }),
];
