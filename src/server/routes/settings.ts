// What the console's settings page shows about the controller itself: its version, where it
// keeps its state (data dir, catalog), how it runs jobs and on which hosts; and when each
// repository is looked after next (verify new, verify all, gc), from the scheduler's cron.

import { z } from 'zod';
import { listHosts } from '../../catalog/index.ts';
import { packageVersion } from '../../core/index.ts';
import { route } from '../routing.ts';
import { hostSchema } from '../schemas.ts';

const VERSION = packageVersion();
const ms = z.number().describe('milliseconds since the Unix epoch');

const serverSchema = z.object({
  version: z.string(), node: z.string(), dataDir: z.string(),
  catalog: z.object({ kind: z.enum(['sqlite', 'postgres']), location: z.string().describe('a file path, or a PostgreSQL URL without its password') }),
  localAgent: z.boolean().describe('jobs run in this process'), remoteAgents: z.boolean().describe('jobs go to `vmbak agent` on the hosts (Redis)'),
  streams: z.number().int().describe('jobs this process runs at once'), startedMs: ms, hosts: z.array(hostSchema),
});

const careRunSchema = z.object({
  repository: z.string(), task: z.enum(['verifyNew', 'verifyAll', 'gc']),
  schedule: z.union([z.string(), z.literal(false)]).describe('cron, or false: off'), timezone: z.string().nullable(),
  nextMs: ms.nullable().describe('null: off'),
});

export const settingsRoutes = [
  route({
    method: 'GET', url: '/server', access: 'viewer', tags: ['meta'], summary: 'This controller: version, data dir, catalog, how jobs run, hosts',
    response: serverSchema,
    async handler({ deps }) {
      const info = deps.controller.info();
      return {
        version: VERSION, node: process.version, dataDir: info.dataDir, catalog: { kind: info.catalogKind, location: info.catalogLocation },
        localAgent: info.localAgent, remoteAgents: info.remoteAgents, streams: info.streams, startedMs: info.startedMs,
        hosts: await listHosts(deps.controller.catalog),
      };
    },
  }),
  route({
    method: 'GET', url: '/care-schedule', access: 'viewer', tags: ['repositories'],
    summary: 'Each repository\'s verify and gc schedules and when each runs next',
    response: z.object({ items: z.array(careRunSchema) }),
    async handler({ deps }) { return { items: await deps.controller.careSchedule() }; },
  }),
];
