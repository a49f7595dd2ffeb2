// Backups as the catalog lists them (a cache of the repositories' manifests): list by VM
// (name or UUID) and repository; verify, restore and index become jobs (the controller audits them
// with their actor); rebuild re-reads the
// repositories' manifests into the catalog.

import { z } from 'zod';
import { getBackup, listBackups, type BackupRecord } from '../../catalog/index.ts';
import { nextDownloadDir } from '../../controller/index.ts';
import { VmbakError } from '../../core/index.ts';
import type { ServerDeps } from '../deps.ts';
import { pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { backupSchema, jobSchema } from '../schemas.ts';
import { exactlyOneRestoreMode } from './jobs.ts';

const backupParams = z.strictObject({ repository: z.string().min(1), backupId: z.string().min(1) });

const restoreBody = z.strictObject({
  toDir: z.string().min(1).optional().describe('a directory on the agent\'s host for the disk images'),
  asVm: z.string().min(1).optional().describe('define a new VM of this name'),
  disk: z.string().min(1).optional().describe('only this disk (vda, sdb)'),
  start: z.boolean().optional().describe('start the new VM'),
  noNetwork: z.boolean().optional().describe('the new VM without network interfaces'),
  host: z.string().min(1).optional().describe('with asVm or toDir: the host to restore on (an agent\'s host; default the one the backup was made on)'),
  pool: z.string().min(1).optional().describe('with asVm: a directory storage pool of that host for the disks (in a folder named after the new VM); default /var/lib/libvirt/images/NAME'),
  format: z.enum(['raw', 'qcow2']).optional().describe('with toDir: the images\' format (default raw)'),
  inPlace: z.literal(true).optional().describe('over the original VM\'s disks (it must be shut off)'),
  confirmVmName: z.string().optional().describe('with inPlace: the VM\'s name, typed by the person who confirms the overwrite'),
  download: z.literal(true).optional().describe('one disk (give disk) for GET /jobs/{id}/download once the job succeeded'),
}).refine(exactlyOneRestoreMode, { error: 'give exactly one of toDir, asVm, inPlace and download', path: ['toDir'] })
  .refine((r) => !r.download || r.disk !== undefined, { error: 'a download is of one disk: give disk', path: ['disk'] })
  .refine((r) => !r.pool || r.asVm !== undefined, { error: 'a storage pool is for a new VM\'s disks: give asVm', path: ['pool'] })
  .refine((r) => !r.host || (!r.inPlace && !r.download), { error: 'in place restores on the VM\'s host, downloads on the controller: no host', path: ['host'] });

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
    summary: 'Restore a backup to a directory, as a new VM or over the original VM (a job)', params: backupParams, body: restoreBody, response: jobSchema,
    async handler({ deps, params, body, principal }) {
      const backup = await backupOrNotFound(deps, params.repository, params.backupId);
      // Refused before queueing: a wrong name is a person's mistake to see at once, not a failed job.
      if (body.inPlace && body.confirmVmName !== backup.vmName) {
        throw new VmbakError('CONFIRMATION_MISMATCH', { what: 'an in-place restore', vm: backup.vmName, given: body.confirmVmName ?? '' });
      }
      const request = { kind: 'restore' as const, repository: params.repository, backup: params.backupId, ...body };
      if (!body.download) return deps.controller.submitJob(request, principal!.actor);
      const { downloadsDir } = deps.controller;
      if (!downloadsDir) throw new VmbakError('USAGE', { detail: 'disk downloads need a controller that runs jobs (a local agent, or agents with --redis)' });
      // A directory of its own per request: the download route finds the image by the job's params alone.
      const toDir = await nextDownloadDir(downloadsDir, deps.controller.catalog.clock.nowMs());
      return deps.controller.submitJob({ ...request, toDir }, principal!.actor);
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
