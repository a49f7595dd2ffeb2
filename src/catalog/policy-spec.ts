// What a policy says, as one zod schema: the config file, the REST API and the stored JSON
// all go through it, so a policy in the catalog is always one the scheduler can run. Cron
// strings are checked by croner — the library the scheduler fires them with — so a schedule
// that validates here also runs. Field meanings: docs/config.md.

import { Cron } from 'croner';
import { z } from 'zod';
import { parseDuration } from '../core/index.ts';

const name = z.string().trim().min(1);

export const durationSchema = z.string().refine((s) => (parseDuration(s) ?? 0) > 0, { error: 'give a duration such as 90s, 30m, 26h or 7d' });

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'give a time of day as HH:MM (24-hour)' });

export const timezoneSchema = z.string().refine(isTimeZone, { error: 'not an IANA time zone (such as Europe/Berlin or UTC)' });

const count = z.number().int().nonnegative();

export const retentionSchema = z.strictObject({
  keepLast: count.optional(),
  keepHourly: count.optional(),
  keepDaily: count.optional(),
  keepWeekly: count.optional(),
  keepMonthly: count.optional(),
  keepYearly: count.optional(),
}).refine((r) => Object.values(r).some((n) => (n ?? 0) > 0), { error: 'a retention rule must keep something (keepLast, keepDaily, …)' });

/** The fields of a policy spec, for schemas that add their own (the config file adds name and enabled). */
export const policySpecFields = {
  vms: z.array(name).min(1),
  repositories: z.array(name).min(1),
  spread: z.boolean().default(false),
  copyTo: z.union([name, z.array(name)]).transform((v) => (typeof v === 'string' ? [v] : v)).default([]),
  schedule: z.string().superRefine(checkCron),
  timezone: timezoneSchema.optional(),
  rpo: durationSchema.optional(),
  retention: retentionSchema.optional(),
  quiesce: z.enum(['auto', 'require', 'off']).default('auto'),
  hooks: z.strictObject({
    preFreeze: z.string().min(1).optional(),
    postThaw: z.string().min(1).optional(),
    timeout: durationSchema.default('60s'),
  }).optional(),
  excludeDisks: z.array(name).default([]),
  /** Index every new backup's files (vmbak index) after the backups of a run. */
  fileIndex: z.boolean().optional(),
  bandwidthMBps: z.number().positive().optional(),
  window: z.strictObject({
    start: clockTime,
    end: clockTime,
    atEnd: z.enum(['continue', 'pause']).default('continue'),
  }).optional(),
  jitter: durationSchema.optional(),
};

/** Rules across fields, for every schema built from policySpecFields. */
export function checkPolicySpec(spec: { repositories: string[]; copyTo: string[]; spread: boolean }, ctx: z.core.$RefinementCtx): void {
  for (const copy of spec.copyTo) {
    if (spec.repositories.includes(copy)) ctx.addIssue({ code: 'custom', path: ['copyTo'], message: `${copy} is also in repositories` });
  }
  if (spec.spread && spec.repositories.length < 2) {
    ctx.addIssue({ code: 'custom', path: ['spread'], message: 'spread needs two or more repositories' });
  }
}

export const policySpecSchema = z.strictObject(policySpecFields).superRefine(checkPolicySpec);

export type PolicySpec = z.output<typeof policySpecSchema>;
export type PolicySpecInput = z.input<typeof policySpecSchema>;
export type Retention = z.output<typeof retentionSchema>;

/** The policy's RPO in ms, or null when it has none. */
export const rpoMsOf = (spec: PolicySpec): number | null => (spec.rpo === undefined ? null : parseDuration(spec.rpo));

export function checkCron(pattern: string, ctx: z.core.$RefinementCtx<string>): void {
  const fields = pattern.trim().split(/\s+/);
  if (!pattern.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    ctx.addIssue({ code: 'custom', message: `cron "${pattern}" has ${fields.length} fields; give 5 (minute first) or 6 (seconds first)` });
    return;
  }
  try {
    if (!new Cron(pattern, { paused: true }).nextRun()) ctx.addIssue({ code: 'custom', message: `cron "${pattern}" never fires` });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cron "${pattern}": ${(err as Error).message.replace(/^CronPattern:\s*/, '')}` });
  }
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
