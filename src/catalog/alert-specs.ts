// What an alert channel and an alert rule say, as zod schemas shared by the config file, the
// REST API and the stored JSON. Secrets (an SMTP password, a webhook's signing secret) are not
// part of a spec: they are stored sealed beside it (alert-channels.ts).

import { z } from 'zod';
import { parseDuration } from '../core/index.ts';
import { ALERT_EVENT_KINDS } from './events.ts';

const duration = z.string().refine((s) => (parseDuration(s) ?? 0) > 0, { error: 'give a duration such as 10s or 2m' });

export const smtpChannelSpecSchema = z.strictObject({
  type: z.literal('smtp'),
  host: z.string().min(1),
  /** Default: 465 with security "tls", else 587. */
  port: z.number().int().min(1).max(65535).optional(),
  security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
  user: z.string().min(1).optional(),
  from: z.email(),
  to: z.array(z.email()).min(1),
  subjectPrefix: z.string().default('[vmbak]'),
  /** Refuse a server certificate that does not verify (turn off only for a private CA you cannot install). */
  tlsVerify: z.boolean().default(true),
  timeout: duration.default('30s'),
  retries: z.number().int().min(0).max(10).default(3),
});

export const webhookChannelSpecSchema = z.strictObject({
  type: z.literal('webhook'),
  url: z.url({ protocol: /^https?$/ }),
  timeout: duration.default('10s'),
  retries: z.number().int().min(0).max(10).default(4),
});

export const alertChannelSpecSchema = z.discriminatedUnion('type', [smtpChannelSpecSchema, webhookChannelSpecSchema]);

export const alertEventSelectorSchema = z.union([z.enum(ALERT_EVENT_KINDS), z.literal('*')]);

export const alertRuleSpecSchema = z.strictObject({
  events: z.array(alertEventSelectorSchema).min(1),
  channels: z.array(z.string().min(1)).min(1),
});

export type SmtpChannelSpec = z.output<typeof smtpChannelSpecSchema>;
export type WebhookChannelSpec = z.output<typeof webhookChannelSpecSchema>;
export type AlertChannelSpec = z.output<typeof alertChannelSpecSchema>;
export type AlertChannelSpecInput = z.input<typeof alertChannelSpecSchema>;
export type AlertRuleSpec = z.output<typeof alertRuleSpecSchema>;
