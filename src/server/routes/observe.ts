// What happened and how things stand: the event log, repository usage over time, and the
// dashboard — protection (protected/unprotected VMs, RPO met/missed), jobs of the last 24
// hours by state, and the jobs queued, running or paused now.

import { z } from 'zod';
import { countJobsByState, listEvents, listJobs, listRepositories, listUsage, summarizeProtection } from '../../catalog/index.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { eventSchema, jobSchema, usageSchema, vmSchema } from '../schemas.ts';

const DAY_MS = 86_400_000;
const ACTIVE_LIMIT = 200;

const protectionSchema = z.object({
  vms: z.number().int(), protectedVms: z.number().int(), unprotectedVms: z.number().int(),
  rpoMet: z.number().int(), rpoMissed: z.number().int(), noRpo: z.number().int(),
  missed: z.array(vmSchema.pick({ uuid: true, name: true, host: true, state: true, policy: true, lastBackupMs: true, lastGoodBackupMs: true })
    .extend({ rpoMs: z.number().nullable() })).describe('VMs that missed their RPO, longest without a good backup first (at most 100)'),
});

const dashboardSchema = z.object({
  protection: protectionSchema,
  jobsLast24h: z.record(z.string(), z.number().int()).describe('jobs created in the last 24 hours, by state'),
  activeJobs: z.array(jobSchema).describe('queued, running and paused jobs'),
});

export const observeRoutes = [
  route({
    method: 'GET', url: '/events', access: 'viewer', tags: ['events'], summary: 'The event log, newest first',
    query: z.strictObject({ ...pageQueryFields, kind: z.string().min(1).optional(), sinceMs: z.coerce.number().int().min(0).optional() }),
    response: pageOf(eventSchema),
    async handler({ deps, query }) { return listEvents(deps.controller.catalog, query); },
  }),
  route({
    method: 'GET', url: '/usage', access: 'viewer', tags: ['repositories'], summary: 'Repository usage samples over time, oldest first',
    query: z.strictObject({ ...pageQueryFields, repository: z.string().min(1).optional(), sinceMs: z.coerce.number().int().min(0).default(0) }),
    response: pageOf(usageSchema),
    async handler({ deps, query }) {
      const { catalog } = deps.controller;
      const names = query.repository !== undefined ? [query.repository] : (await listRepositories(catalog)).map((r) => r.name);
      const samples = (await Promise.all(names.map(async (repository) =>
        (await listUsage(catalog, repository, query.sinceMs)).map((s) => ({ repository, ...s }))))).flat();
      return pageArray(samples, (s) => `${s.repository}\u0000${String(s.timeMs).padStart(16, '0')}`, query);
    },
  }),
  route({
    method: 'GET', url: '/dashboard', access: 'viewer', tags: ['dashboard'], summary: 'Is everything protected: the summary the console opens with',
    response: dashboardSchema,
    async handler({ deps }) {
      const { catalog } = deps.controller;
      const nowMs = catalog.clock.nowMs();
      const active = await Promise.all((['running', 'paused', 'queued'] as const).map((state) => listJobs(catalog, { state, limit: ACTIVE_LIMIT })));
      const protection = await summarizeProtection(catalog, nowMs);
      return {
        protection: { ...protection, missed: [...protection.missed] },
        jobsLast24h: await countJobsByState(catalog, nowMs - DAY_MS),
        activeJobs: active.flatMap((page) => page.items),
      };
    },
  }),
];
