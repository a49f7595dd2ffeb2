// Backups as the catalog lists them (a cache of the repositories' manifests): list by VM
// (name or UUID) and repository; verify, restore and index become jobs (the controller audits them
// with their actor); rebuild re-reads the
// repositories' manifests into the catalog.

import { z } from 'zod';
import { getBackup, listBackups, type BackupRecord } from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import type { ServerDeps } from '../deps.ts';
import { pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { backupSchema, jobSchema } from '../schemas.ts';

const backupParams = z.strictObject({ repository: z.string().min(1), backupId: z.string().min(1) });

const restoreBody = z.strictObject({
  toDir: z.string().min(1).optional().describe('a directory on the agent\'s host for the disk images'),
  asVm: z.string().min(1).optional().describe('define a new VM of this name'),
  disk: z.string().min(1).optional().describe('only this disk (vda, sdb)'),
  start: z.boolean().optional().describe('start the new VM'),
  noNetwork: z.boolean().optional().describe('the new VM without network interfaces'),
}).refine((r) => (r.toDir === undefined) !== (r.asVm === undefined), { error: 'give one of toDir and asVm', path: ['toDir'] });

async function backupOrNotFound(deps: ServerDeps, repository: string, backupId: string): Promise<BackupRecord> {
  const backup = await getBackup(deps.controller.catalog, repository, backupId);
  if (!backup) throw new VmbakError('BACKUP_NOT_FOUND', { backupId, repo: repository });
  return backup;
}

export const backupRoutes = [
  route({
    method: 'GET', url: '/backups', access: 'viewer', tags: ['backups'], summary: 'Backups, newest first',
    query: z.strictObject({ ...pageQueryFields, vm: z.string().min(1).optional().describe('a VM name or UUID'), repository: z.string().min(1).optional() }),
    response: pageOf(backupSchema),
    async handler({ deps, query }) {
      return listBackups(deps.controller.catalog, query);
    },
  }),
  route({
    method: 'GET', url: '/backups/:repository/:backupId', access: 'viewer', tags: ['backups'], summary: 'One backup',
    params: backupParams, response: backupSchema,
    async handler({ deps, params }) { return backupOrNotFound(deps, params.repository, params.backupId); },
  }),
  route({
    method: 'DELETE', url: '/backups/:repository/:backupId', access: 'admin', tags: ['backups'], audit: 'backup.delete',
    summary: 'Delete a backup from its repository and the catalog (gc frees its data), or with catalogOnly forget it in the catalog alone',
    params: backupParams,
    query: z.strictObject({ catalogOnly: z.enum(['true', 'false']).default('false').describe('true: only the catalog forgets it; the repository keeps it') }),
    async handler({ deps, params, query }) {
      await deps.controller.deleteBackup(params.repository, params.backupId, { catalogOnly: query.catalogOnly === 'true' });
    },
  }),
  route({
    method: 'POST', url: '/backups/:repository/:backupId/verify', access: 'operator', tags: ['backups'], auditedBy: 'controller', status: 202,
    summary: 'Verify a backup (a job)', params: backupParams, response: jobSchema,
    async handler({ deps, params, principal }) {
      await backupOrNotFound(deps, params.repository, params.backupId);
      return deps.controller.submitJob({ kind: 'verify', repository: params.repository, backups: [params.backupId] }, principal!.actor);
    },
  }),
  route({
    method: 'POST', url: '/backups/:repository/:backupId/restore', access: 'operator', tags: ['backups'], auditedBy: 'controller', status: 202,
    summary: 'Restore a backup to a directory or as a new VM (a job)', params: backupParams, body: restoreBody, response: jobSchema,
    async handler({ deps, params, body, principal }) {
      await backupOrNotFound(deps, params.repository, params.backupId);
      return deps.controller.submitJob({ kind: 'restore', repository: params.repository, backup: params.backupId, ...body }, principal!.actor);
    },
  }),
  route({
    method: 'POST', url: '/backups/:repository/:backupId/index', access: 'operator', tags: ['backups'], auditedBy: 'controller', status: 202,
    summary: 'Index the files of a backup for search (a job, as vmbak index)', params: backupParams,
    query: z.strictObject({ full: z.enum(['true', 'false']).default('false').describe('true: walk every filesystem, even those unchanged since the previous indexed backup') }),
    response: jobSchema,
    async handler({ deps, params, query, principal }) {
      await backupOrNotFound(deps, params.repository, params.backupId);
      return deps.controller.submitJob({ kind: 'index', repository: params.repository, backup: params.backupId, full: query.full === 'true' }, principal!.actor);
    },
  }),
  route({
    method: 'POST', url: '/backups/rebuild', access: 'operator', tags: ['backups'], audit: 'backups.rebuild',
    summary: 'Rebuild the catalog\'s list of backups from the repositories\' manifests (one, or all)',
    query: z.strictObject({ repository: z.string().min(1).optional() }),
    response: z.object({ added: z.number().int(), removed: z.number().int() }),
    async handler({ deps, query, note }) {
      const result = await deps.controller.rebuildBackups(query.repository);
      note(result);
      return result;
    },
  }),
];
