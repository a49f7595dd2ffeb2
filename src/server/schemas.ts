// The shapes the API answers with and the names it accepts, as zod schemas: the OpenAPI
// document is generated from them and every response is parsed through them (routing.ts), so
// a field not listed here never leaves the server. Secrets have no field in any of them:
// records say `hasCredentials` / `hasSecret`, never what.

import { z } from 'zod';
import { NAME_PATTERN, ROLES, alertChannelSpecSchema, alertEventSelectorSchema, careSpecSchema, policySpecSchema } from '../catalog/index.ts';

/** Names of policies, repositories, channels, rules, tokens and users: as in the config file. */
export const resourceName = z.string().trim().min(1).max(128)
  .regex(NAME_PATTERN, { error: 'use letters, digits, ".", "_" and "-", starting with a letter or digit' });

export const roleSchema = z.enum(ROLES);
const ms = z.number().describe('milliseconds since the Unix epoch');
const msOrNull = ms.nullable();
const jobState = z.enum(['queued', 'running', 'paused', 'succeeded', 'warning', 'failed', 'aborted', 'interrupted']);
export const jobKind = z.enum(['backup', 'verify', 'prune', 'gc', 'copy', 'restore', 'sync', 'index']);
export const jobStateSchema = jobState;

export const nameParams = z.strictObject({ name: z.string().min(1) });

export const storagePoolSchema = z.object({
  name: z.string(), type: z.string().describe('libvirt pool type (dir, fs, netfs, logical, …)'),
  path: z.string().nullable().describe('the directory its volumes live in; null when it is not a directory pool (restores cannot use it)'),
  active: z.boolean(), capacityBytes: z.number().nullable(), availableBytes: z.number().nullable(),
});

export const hostSchema = z.object({
  name: z.string(), uri: z.string().nullable(), state: z.enum(['online', 'lost']), firstSeenMs: ms, lastSeenMs: ms,
  streams: z.number().int().nullable().describe('Jobs the host\'s agent runs at once (null: not said)'),
  pools: z.array(storagePoolSchema).describe('its storage pools as last listed: where a restored VM\'s disks can go'),
});

export const vmDiskSchema = z.object({
  target: z.string(), device: z.string(), path: z.string().nullable(), format: z.string(), sizeBytes: z.number(),
  skipReason: z.string().nullable(), unsupportedReason: z.string().nullable(), changedBlockTracking: z.boolean(),
});

export const vmSchema = z.object({
  uuid: z.string(), name: z.string(), host: z.string().nullable(), state: z.enum(['running', 'paused', 'shutoff', 'other']),
  disks: z.array(vmDiskSchema), tags: z.array(z.string()), firstSeenMs: ms, seenMs: ms, goneMs: msOrNull,
  policy: z.string().nullable().describe('the policy that backs it up'),
  lastBackupMs: msOrNull, lastGoodBackupMs: msOrNull.describe('newest backup whose verify did not fail'),
});

export const policyConflictSchema = z.object({ uuid: z.string(), name: z.string(), policies: z.array(z.string()) });

export const policySchema = z.object({
  name: z.string(), enabled: z.boolean(), managedByConfig: z.boolean().describe('read-only through the API when true'),
  spec: policySpecSchema, createdMs: ms, updatedMs: ms,
  status: z.object({
    state: z.enum(['ok', 'degraded', 'conflict']).describe('conflict: a VM it matches is matched by another policy too; degraded: a selector matches no VM'),
    vmCount: z.number().describe('VMs of the inventory its selectors match now'),
    unmatched: z.array(z.string()).describe('selectors that match no VM'),
    conflicts: z.array(policyConflictSchema).describe('matched VMs other policies match too (shown on each of them)'),
  }),
});

export const repositorySchema = z.object({
  name: z.string(), url: z.string(), hasCredentials: z.boolean().describe('credentials are write-only'),
  managedByConfig: z.boolean(), createdMs: ms, updatedMs: ms,
  care: careSpecSchema.describe('when it is verified and gc\'d, and when it counts as nearly full'),
});

export const jobSchema = z.object({
  id: z.string(), kind: jobKind, policy: z.string().nullable(), state: jobState, trigger: z.enum(['schedule', 'manual', 'retry']),
  host: z.string().nullable(), params: z.record(z.string(), z.unknown()), createdMs: ms, startedMs: msOrNull, finishedMs: msOrNull,
  bytesRead: z.number(), bytesWritten: z.number(), error: z.string().nullable(),
});

export const jobVmSchema = z.object({
  jobId: z.string(), vmKey: z.string(), vmName: z.string(),
  state: z.enum(['queued', 'running', 'succeeded', 'warning', 'failed', 'aborted', 'skipped', 'interrupted']),
  repository: z.string().nullable(), backupId: z.string().nullable(), startedMs: msOrNull, finishedMs: msOrNull,
  bytesRead: z.number(), bytesWritten: z.number(), error: z.string().nullable(),
});

export const jobEventSchema = z.object({
  id: z.number().int(), jobId: z.string(), timeMs: ms, level: z.enum(['debug', 'info', 'warning', 'error']),
  vmKey: z.string().nullable(), message: z.string(),
});

export const jobUpdateSchema = z.object({
  jobId: z.string(), kind: jobKind, state: jobState, bytesRead: z.number(), bytesWritten: z.number(), bytesTotal: z.number().nullable(),
  rateBytesPerSec: z.number(), message: z.string().nullable(), atMs: ms,
});

export const backupSchema = z.object({
  repository: z.string(), backupId: z.string(), vmKey: z.string(), vmUuid: z.string().nullable(), vmName: z.string(), host: z.string(),
  timeMs: ms, logicalBytes: z.number(), newBytes: z.number(), storedBytes: z.number(),
  consistency: z.enum(['application', 'filesystem', 'crash']), incremental: z.boolean(),
  fullReason: z.string().nullable().describe('why a full backup read its disks in full; null when incremental or not recorded'),
  verifyState: z.enum(['unverified', 'ok', 'failed']), verifiedMs: msOrNull,
});

export const eventSchema = z.object({
  id: z.number().int(), timeMs: ms, kind: z.string(), severity: z.enum(['info', 'warning', 'error']), key: z.string(),
  message: z.string(), data: z.record(z.string(), z.unknown()),
});

export const usageSchema = z.object({
  repository: z.string(), timeMs: ms, storedBytes: z.number(), logicalBytes: z.number(), chunkCount: z.number(),
  capacityBytes: z.number().nullable(), dedupRatio: z.number(), compressionRatio: z.number(),
});

export const channelSchema = z.object({
  name: z.string(), spec: alertChannelSpecSchema, hasSecret: z.boolean().describe('the secret is write-only'), managedByConfig: z.boolean(),
});

export const ruleSchema = z.object({
  name: z.string(), events: z.array(alertEventSelectorSchema), channels: z.array(z.string()), managedByConfig: z.boolean(),
});

export const deliverySchema = z.object({
  id: z.number().int(), eventKind: z.string(), eventKey: z.string(), channel: z.string(),
  state: z.enum(['pending', 'delivered', 'undelivered']), attempts: z.number().int(), reason: z.string().nullable(),
  createdMs: ms, finishedMs: msOrNull,
});

export const tokenSchema = z.object({
  id: z.string(), name: z.string(), role: roleSchema, createdMs: ms, createdBy: z.string().nullable(),
  lastUsedMs: msOrNull, expiresMs: msOrNull, revokedMs: msOrNull,
});

export const userSchema = z.object({ name: z.string(), role: roleSchema, disabled: z.boolean(), createdMs: ms, updatedMs: ms });

export const auditSchema = z.object({
  id: z.number().int(), timeMs: ms, actor: z.string(), action: z.string(), target: z.string(), detail: z.record(z.string(), z.unknown()),
});
