// Questions about a repository that change nothing: the prune simulator (which backups a
// retention keeps, and by which rule) and the connection test of a URL with its credentials
// before it is saved. The connection test is admin-only: it takes credentials and makes the
// controller reach out to any address.

import { z } from 'zod';
import { getRepository } from '../../catalog/index.ts';
import { previewRepositoryPrune, testRepositoryConnection } from '../../controller/index.ts';
import { VmbakError } from '../../core/index.ts';
import { route } from '../routing.ts';
import { nameParams } from '../schemas.ts';
import { repositoryCredentials, repositoryUrl } from './repositories.ts';

const keep = z.coerce.number().int().min(0).max(100_000).optional();
const retentionQuery = z.strictObject({
  keepLast: keep, keepHourly: keep, keepDaily: keep, keepWeekly: keep, keepMonthly: keep, keepYearly: keep,
  vm: z.string().min(1).optional().describe('only this VM\'s backups (name or UUID)'),
}).refine((q) => [q.keepLast, q.keepHourly, q.keepDaily, q.keepWeekly, q.keepMonthly, q.keepYearly].some((n) => n !== undefined), {
  error: 'give at least one keep… rule (a retention without rules would remove every backup)', path: ['keepLast'],
});

const previewEntry = z.object({
  backupId: z.string(), vmName: z.string(), timeMs: z.number(),
  reasons: z.array(z.string()).describe('the rules that keep it; empty for a backup that would go'),
});

const connectionAnswer = z.object({
  ok: z.boolean(), repositoryId: z.string().optional().describe('when ok'),
  code: z.string().optional().describe('the error code, when not ok'), error: z.string().optional().describe('one line, when not ok'),
});

export const repositoryProbeRoutes = [
  route({
    method: 'GET', url: '/repositories/:name/prune-preview', access: 'viewer', tags: ['repositories'],
    summary: 'Which backups a retention would keep (and why) and which it would remove — nothing is deleted',
    params: nameParams, query: retentionQuery, response: z.object({ keep: z.array(previewEntry), remove: z.array(previewEntry) }),
    async handler({ deps, params, query }) {
      if (!(await getRepository(deps.controller.catalog, params.name))) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name: params.name });
      const { vm, ...retention } = query;
      return previewRepositoryPrune(deps.controller.store, params.name, retention, vm);
    },
  }),
  route({
    method: 'POST', url: '/repositories/test', access: 'admin', tags: ['repositories'], audit: 'repository.test',
    summary: 'Whether a URL with its credentials opens as a repository (ok, or the error\'s code and one line)',
    body: z.strictObject({ url: repositoryUrl, credentials: repositoryCredentials.optional() }), response: connectionAnswer,
    async handler({ body }) {
      return testRepositoryConnection(body.url, body.credentials);
    },
  }),
];
