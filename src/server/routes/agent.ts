// What agents on the hosts use, for the `agent` role only: register (where their jobs come
// from), report their host's inventory (also their heartbeat), report on the jobs they run
// (logs, progress; the answer relays pause and abort) and their outcome, and the job store —
// what a job reads from and records into the catalog — as one call per operation. The
// credentials route is the one place a secret leaves the controller: for the agent role only
// (no person, not even an admin, reads a stored credential back), each read audited.

import { z } from 'zod';
import { getRepository, readRepositoryCredentials, type BackupInput } from '../../catalog/index.ts';
import type { ControllerApi } from '../../controller/index.ts';
import { VmbakError } from '../../core/index.ts';
import { route } from '../routing.ts';
import { storagePoolSchema } from '../schemas.ts';

const hostParams = z.strictObject({ host: z.string().min(1).max(253).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/) });
const jobParams = z.strictObject({ id: z.string().min(1) });
const verifyState = z.enum(['unverified', 'ok', 'failed']);

const vmInfo = z.strictObject({
  uuid: z.string().min(1), name: z.string().min(1), state: z.enum(['running', 'paused', 'shutoff', 'other']), host: z.string(),
  disks: z.array(z.strictObject({
    target: z.string(), device: z.string(), path: z.string().nullable(), format: z.string(), sizeBytes: z.number(),
    skipReason: z.string().nullable(), unsupportedReason: z.string().nullable(), changedBlockTracking: z.boolean(),
  })),
  tags: z.array(z.string()),
});

const backupInput = z.strictObject({
  repository: z.string(), backupId: z.string(), vmKey: z.string(), vmUuid: z.string().nullable(), vmName: z.string(), host: z.string(),
  timeMs: z.number(), logicalBytes: z.number(), newBytes: z.number(), storedBytes: z.number(),
  consistency: z.enum(['application', 'filesystem', 'crash']), incremental: z.boolean(),
  fullReason: z.string().nullable().optional(),
});
// Every field of the catalog's backup input: one added there fails to compile here until agents can send it.
type MissingBackupField = Exclude<keyof BackupInput, keyof z.infer<typeof backupInput>>;
const allBackupFields: [MissingBackupField] extends [never] ? true : MissingBackupField = true;
void allBackupFields;

const storeCall = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('policySpec'), name: z.string() }),
  z.strictObject({ op: z.literal('repository'), name: z.string() }),
  z.strictObject({ op: z.literal('backupIdsInVerifyState'), repositories: z.array(z.string()), state: verifyState }),
  z.strictObject({ op: z.literal('setVerifyState'), repository: z.string(), backupId: z.string(), state: verifyState }),
  z.strictObject({
    op: z.literal('recordVmResult'), jobId: z.string(),
    result: z.strictObject({
      vmKey: z.string(), vmName: z.string(), state: z.enum(['queued', 'running', 'succeeded', 'warning', 'failed', 'aborted', 'skipped', 'interrupted']),
      repository: z.string().nullable().optional(), backupId: z.string().nullable().optional(), startedMs: z.number().nullable().optional(),
      finishedMs: z.number().nullable().optional(), bytesRead: z.number().optional(), bytesWritten: z.number().optional(), error: z.string().nullable().optional(),
    }),
  }),
  z.strictObject({ op: z.literal('recordBackups'), backups: z.array(backupInput) }),
  z.strictObject({ op: z.literal('forgetBackups'), repository: z.string(), backupIds: z.array(z.string()) }),
  z.strictObject({ op: z.literal('backupTotals'), repository: z.string() }),
  z.strictObject({ op: z.literal('fileIndexWritten'), repository: z.string() }),
  z.strictObject({
    op: z.literal('recordUsage'), repository: z.string(),
    sample: z.strictObject({
      storedBytes: z.number(), logicalBytes: z.number(), chunkCount: z.number(), capacityBytes: z.number().nullable(),
      dedupRatio: z.number(), compressionRatio: z.number(),
    }),
  }),
  z.strictObject({
    op: z.literal('alert'),
    event: z.strictObject({
      kind: z.string(), key: z.string(), severity: z.enum(['info', 'warning', 'error']), message: z.string(), timeMs: z.number(),
      data: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
]);
export type StoreCall = z.output<typeof storeCall>;

/** Runs one job-store operation; the answer is `{ value }`. */
async function callStore(controller: ControllerApi, c: StoreCall): Promise<unknown> {
  const { store } = controller;
  switch (c.op) {
    case 'fileIndexWritten': return controller.files.syncIndexes(c.repository);
    case 'policySpec': return store.policySpec(c.name);
    case 'repository': return store.repository(c.name);
    case 'backupIdsInVerifyState': return store.backupIdsInVerifyState(c.repositories, c.state);
    case 'setVerifyState': return store.setVerifyState(c.repository, c.backupId, c.state);
    case 'recordVmResult': return store.recordVmResult(c.jobId, c.result);
    case 'recordBackups': return store.recordBackups(c.backups);
    case 'forgetBackups': return store.forgetBackups(c.repository, c.backupIds);
    case 'backupTotals': return store.backupTotals(c.repository);
    case 'recordUsage': return store.recordUsage(c.repository, c.sample);
    case 'alert': return store.alert(c.event);
  }
}

export const agentRoutes = [
  route({
    method: 'GET', url: '/agent/credentials/:repository', access: 'agent', tags: ['agent'], audit: 'repository.credentials-read',
    summary: 'A repository\'s location and credentials, for an agent that writes to it',
    params: z.strictObject({ repository: z.string().min(1) }),
    response: z.object({ name: z.string(), url: z.string(), passphrase: z.string().nullable(), env: z.record(z.string(), z.string()) }),
    async handler({ deps, params }) {
      const { catalog, secrets } = deps.controller;
      const repository = await getRepository(catalog, params.repository);
      if (!repository) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name: params.repository });
      const credentials = await readRepositoryCredentials(catalog, secrets, repository.name);
      return { name: repository.name, url: repository.url, passphrase: credentials?.passphrase ?? null, env: { ...credentials?.env } };
    },
  }),
  route({
    method: 'POST', url: '/agent/hosts/:host/register', access: 'agent', tags: ['agent'], audit: 'agent.register',
    summary: 'An agent starting on a host: the queues its jobs come from and the repositories there are',
    params: hostParams,
    body: z.strictObject({ uri: z.string().nullable(), streams: z.number().int().min(1).max(64).nullable().optional().describe('Jobs the agent runs at once') }),
    response: z.object({ redisUrl: z.string(), queue: z.string(), careQueue: z.string(), repositories: z.array(z.string()) }),
    async handler({ deps, params, body }) {
      const r = await deps.controller.agentRegister(params.host, body.uri, body.streams ?? null);
      return { ...r, repositories: [...r.repositories] };
    },
  }),
  route({
    method: 'PUT', url: '/agent/hosts/:host/inventory', access: 'agent', tags: ['agent'], auditedBy: 'job',
    summary: 'The VMs of a host as its agent lists them (also the agent\'s heartbeat)',
    params: hostParams, body: z.strictObject({ uri: z.string().nullable(), vms: z.array(vmInfo), pools: z.array(storagePoolSchema).optional() }),
    async handler({ deps, params, body }) {
      await deps.controller.agentInventory(params.host, body.uri, body.vms, body.pools);
    },
  }),
  route({
    method: 'POST', url: '/agent/jobs/:id/report', access: 'agent', tags: ['agent'], auditedBy: 'job',
    summary: 'Logs and progress of a job an agent runs; the answer says whether to pause or abort it',
    params: jobParams,
    body: z.strictObject({
      log: z.array(z.strictObject({ level: z.enum(['debug', 'info', 'warning', 'error']), message: z.string(), vmKey: z.string().nullable().optional() })).optional(),
      progress: z.strictObject({
        bytesRead: z.number(), bytesStored: z.number(), bytesToRead: z.number().nullable(),
        disks: z.array(z.strictObject({
          vm: z.string(), disk: z.string(), bytesToRead: z.number(), bytesRead: z.number(),
          elapsedMs: z.number().nonnegative().describe('since the disk started (to its end once done): no shared clock needed'), done: z.boolean(),
        })).optional().describe('each disk started so far (the console\'s bar per disk)'),
      }).optional(),
    }),
    response: z.object({ abort: z.boolean(), paused: z.boolean() }),
    async handler({ deps, params, body }) {
      return deps.controller.agentReport(params.id, body);
    },
  }),
  route({
    method: 'POST', url: '/agent/jobs/:id/finish', access: 'agent', tags: ['agent'], auditedBy: 'job',
    summary: 'How a job an agent ran ended', params: jobParams,
    body: z.strictObject({ state: z.enum(['succeeded', 'warning', 'failed']), error: z.string().nullable() }),
    async handler({ deps, params, body }) {
      await deps.controller.agentFinish(params.id, body);
    },
  }),
  route({
    method: 'POST', url: '/agent/store', access: 'agent', tags: ['agent'], auditedBy: 'job',
    summary: 'One operation of the job store (what a running job reads from and records into the catalog)',
    body: storeCall, response: z.object({ value: z.unknown() }),
    async handler({ deps, body }) {
      return { value: (await callStore(deps.controller, body)) ?? null };
    },
  }),
];
