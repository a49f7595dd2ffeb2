// What happened and how things stand: the event log, repository usage over time, and the
// dashboard — protection (protected/unprotected VMs, RPO met/missed), jobs of the last 24
// hours by state, the jobs queued, running or paused now, the next scheduled runs and the
// newest warnings and errors of the event log — so the console's first page is one request.

import { z } from 'zod';
import {
  countJobsByState, listEvents, listJobs, listPolicies, listRepositories, listUsage, summarizeProtection, type Catalog,
} from '../../catalog/index.ts';
import type { ControllerApi } from '../../controller/index.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { eventSchema, jobSchema, usageSchema, vmSchema } from '../schemas.ts';

const DAY_MS = 86_400_000;
const ACTIVE_LIMIT = 200;
const UPCOMING_RUNS = 10;
const RECENT_ALERTS = 10;
/** How far back the event log is read for recent warnings and errors. */
const ALERT_SCAN = 200;

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
  upcomingRuns: z.array(z.object({ policy: z.string(), timeMs: z.number() }))
    .describe(`the next scheduled runs of the enabled policies, soonest first (at most ${UPCOMING_RUNS})`),
  recentAlerts: z.array(eventSchema).describe(`the newest warnings and errors of the event log (at most ${RECENT_ALERTS})`),
});

async function upcomingRuns(controller: ControllerApi): Promise<{ policy: string; timeMs: number }[]> {
  const policies = (await listPolicies(controller.catalog)).filter((p) => p.enabled);
  const runs = await Promise.all(policies.map(async (p) => (await controller.nextRuns(p.name, UPCOMING_RUNS)).map((timeMs) => ({ policy: p.name, timeMs }))));
  return runs.flat().sort((a, b) => a.timeMs - b.timeMs || a.policy.localeCompare(b.policy)).slice(0, UPCOMING_RUNS);
}

async function recentAlerts(catalog: Catalog) {
  const { items } = await listEvents(catalog, { limit: ALERT_SCAN });
  return items.filter((e) => e.severity !== 'info').slice(0, RECENT_ALERTS);
}

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
        upcomingRuns: await upcomingRuns(deps.controller),
        recentAlerts: await recentAlerts(catalog),
      };
    },
  }),
];
