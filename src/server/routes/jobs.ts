// Jobs: the list and one job with its per-VM results and log, submitting work (a JobRequest),
// steering a job (pause, resume, abort, retry) — all through the controller, which records
// them with their actor in the audit log — and live
// updates as Server-Sent Events: /jobs/stream for every job, /jobs/{id}/events for one (its
// log so far, then its updates, ending when it finishes).

import { z } from 'zod';
import { FINISHED_JOB_STATES, countJobVms, getJob, listJobEvents, listJobVms, listJobs, type CatalogJob } from '../../catalog/index.ts';
import type { JobAction, JobRequest, JobUpdate } from '../../controller/index.ts';
import { VmbakError } from '../../core/index.ts';
import { pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { jobEventSchema, jobKind, jobSchema, jobStateSchema, jobVmSchema } from '../schemas.ts';
import { EventStream } from '../sse.ts';
import { jobDownloadRoute } from './job-download.ts';

const names = z.array(z.string().min(1)).min(1);

/** A restore goes to one place: a directory, a new VM, or over the original. */
export const exactlyOneRestoreMode = (r: { toDir?: string; asVm?: string; inPlace?: true; download?: true }): boolean =>
  [r.toDir !== undefined, r.asVm !== undefined, r.inPlace === true, r.download === true].filter(Boolean).length === 1;

export const jobRequestSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('backup'), policy: z.string().min(1).optional(), vms: names.optional().describe('names, UUIDs, globs, tag:NAME'),
    repositories: names.optional().describe('where to, without a policy (failover order)'),
  }).refine((r) => r.policy !== undefined || (r.vms !== undefined && r.repositories !== undefined), {
    error: 'name a policy, or vms and repositories', path: ['policy'],
  }),
  z.strictObject({
    kind: z.literal('verify'), repository: z.string().min(1), backups: names.optional(),
    scope: z.enum(['new', 'all']).optional().describe('without backups: the ones not verified before (new) or every one (all, the default)'),
  }),
  z.strictObject({ kind: z.literal('prune'), policy: z.string().min(1) }),
  z.strictObject({ kind: z.literal('gc'), repository: z.string().min(1) }),
  z.strictObject({
    kind: z.literal('restore'), repository: z.string().min(1), backup: z.string().min(1),
    toDir: z.string().min(1).optional(), asVm: z.string().min(1).optional(), disk: z.string().min(1).optional(),
    start: z.boolean().optional(), noNetwork: z.boolean().optional(), format: z.enum(['raw', 'qcow2']).optional(),
    inPlace: z.literal(true).optional(), confirmVmName: z.string().optional().describe('with inPlace: the VM\'s name (the job checks it)'),
    host: z.string().min(1).optional().describe('the host to restore on (agents; default the backup\'s)'),
    pool: z.string().min(1).optional().describe('with asVm: a directory storage pool of that host for the disks'),
  }).refine(exactlyOneRestoreMode, { error: 'give exactly one of toDir, asVm and inPlace', path: ['toDir'] }),
  z.strictObject({ kind: z.literal('index'), repository: z.string().min(1), backup: z.string().min(1), full: z.boolean().optional().describe('walk every filesystem, even those unchanged since the previous indexed backup') }),
]);

const jobIdParams = z.strictObject({ id: z.string().min(1) });
const jobListItem = jobSchema.extend({ vmCounts: z.record(z.string(), z.number().int()).describe('VMs per state') });
const jobDetail = z.object({ job: jobSchema, vms: z.array(jobVmSchema), events: z.array(jobEventSchema).describe('the first 1000 log lines') });

const actorOf = (principal: { actor: string } | null): string => principal?.actor ?? 'anonymous';
const isFinished = (state: string): boolean => (FINISHED_JOB_STATES as readonly string[]).includes(state);

async function jobOrNotFound(catalog: Parameters<typeof getJob>[0], jobId: string): Promise<CatalogJob> {
  const job = await getJob(catalog, jobId);
  if (!job) throw new VmbakError('JOB_NOT_FOUND', { jobId });
  return job;
}

const controlRoutes = (['pause', 'resume', 'abort'] as const satisfies readonly JobAction[]).map((action) => route({
  method: 'POST', url: `/jobs/:id/${action}`, access: 'operator', tags: ['jobs'], auditedBy: 'controller',
  summary: `${action[0]!.toUpperCase()}${action.slice(1)} a queued or running job`, params: jobIdParams, response: jobSchema,
  async handler({ deps, params, principal }) {
    return deps.controller.controlJob(params.id, action, actorOf(principal));
  },
}));

export const jobRoutes = [
  route({
    method: 'GET', url: '/jobs', access: 'viewer', tags: ['jobs'], summary: 'Jobs, newest first',
    query: z.strictObject({ ...pageQueryFields, state: jobStateSchema.optional(), policy: z.string().min(1).optional(), kind: jobKind.optional() }),
    response: pageOf(jobListItem),
    async handler({ deps, query }) {
      const { catalog } = deps.controller;
      const page = await listJobs(catalog, { limit: query.limit, cursor: query.cursor, state: query.state, policy: query.policy, kind: query.kind });
      const counts = await countJobVms(catalog, page.items.map((j) => j.id));
      return { ...page, items: page.items.map((job) => ({ ...job, vmCounts: counts.get(job.id) ?? {} })) };
    },
  }),
  route({
    method: 'GET', url: '/jobs/stream', access: 'viewer', tags: ['jobs'], stream: true,
    summary: 'Live updates of every job (SSE: `jobs` with the active jobs, then `update` per change)',
    async handler({ deps, request, reply }) {
      const { catalog } = deps.controller;
      const stream = new EventStream(request, reply, deps.streams);
      const pending: JobUpdate[] = [];
      let live = false;
      const unsubscribe = deps.controller.subscribe((update) => (live ? stream.send('update', update) : pending.push(update)));
      stream.onEnd(unsubscribe);
      const active = await Promise.all((['queued', 'running', 'paused'] as const).map((state) => listJobs(catalog, { state, limit: 1000 })));
      stream.send('jobs', active.flatMap((page) => page.items));
      for (const update of pending.splice(0)) stream.send('update', update);
      live = true;
    },
  }),
  route({
    method: 'GET', url: '/jobs/:id', access: 'viewer', tags: ['jobs'], summary: 'One job with its per-VM results and log',
    params: jobIdParams, response: jobDetail,
    async handler({ deps, params }) {
      const { catalog } = deps.controller;
      const job = await jobOrNotFound(catalog, params.id);
      return { job, vms: await listJobVms(catalog, job.id), events: await listJobEvents(catalog, job.id) };
    },
  }),
  route({
    method: 'GET', url: '/jobs/:id/events', access: 'viewer', tags: ['jobs'], stream: true, params: jobIdParams,
    query: z.strictObject({ after: z.coerce.number().int().min(0).optional().describe('log lines after this id (as Last-Event-ID)') }),
    summary: 'One job live (SSE: `job`, its `log` lines, then `update` per change, `end` when it finishes)',
    async handler({ deps, params, query, request, reply }) {
      const { catalog } = deps.controller;
      await jobOrNotFound(catalog, params.id); // a 404 problem before the stream opens
      const stream = new EventStream(request, reply, deps.streams);
      const pending: JobUpdate[] = [];
      let live = false;
      const forward = (update: JobUpdate): void => {
        stream.send('update', update);
        if (isFinished(update.state)) stream.end();
      };
      const unsubscribe = deps.controller.subscribe((update) => {
        if (update.jobId !== params.id) return;
        if (live) forward(update);
        else pending.push(update);
      });
      stream.onEnd(unsubscribe);
      const job = (await getJob(catalog, params.id))!;
      stream.send('job', job);
      const lastEventId = Number(request.headers['last-event-id']);
      for (const line of await listJobEvents(catalog, job.id, query.after ?? (Number.isInteger(lastEventId) ? lastEventId : 0))) {
        stream.send('log', line, line.id);
      }
      live = true;
      for (const update of pending.splice(0)) forward(update);
      if (isFinished(job.state)) stream.end();
    },
  }),
  route({
    method: 'POST', url: '/jobs', access: 'operator', tags: ['jobs'], auditedBy: 'controller', status: 202,
    summary: 'Queue a job: backup, verify, prune, gc or restore', body: jobRequestSchema, response: jobSchema,
    async handler({ deps, body, principal }) {
      return deps.controller.submitJob(body as JobRequest, actorOf(principal));
    },
  }),
  ...controlRoutes,
  jobDownloadRoute,
  route({
    method: 'POST', url: '/jobs/:id/retry', access: 'operator', tags: ['jobs'], auditedBy: 'controller', status: 202,
    summary: 'A new job for what a finished job did not get done', params: jobIdParams, response: jobSchema,
    async handler({ deps, params, principal }) {
      return deps.controller.retryJob(params.id, actorOf(principal));
    },
  }),
];
