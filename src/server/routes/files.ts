// The console's file browser and file search: list a backup's filesystems or a directory
// (one appliance per backup being browsed, kept while in use — controller/file-sessions.ts),
// download a file, or a file or folder as one tar or zip; and find which VMs and points in
// time hold a file, in which versions, from the catalog's cache of the file indexes.
// Names are visible to viewers; contents leave only for operators (as a restore would).

import { createReadStream } from 'node:fs';
import { z } from 'zod';
import { fileIndexOf } from '../../catalog/index.ts';
import { VmbakError, parseDuration } from '../../core/index.ts';
import type { ServerDeps } from '../deps.ts';
import { route } from '../routing.ts';

const backupParams = z.strictObject({ repository: z.string().min(1), backupId: z.string().min(1) });
const pathField = z.string().min(1).describe('FILESYSTEM:/path, e.g. vda/p1:/etc (filesystem ids as the listing without a path gives them), or /path in the guest OS (its root with its fstab mounts)');
const iso = z.string().describe('ISO-8601 UTC');

const entrySchema = z.object({
  name: z.string(), type: z.enum(['file', 'dir', 'symlink', 'char', 'block', 'fifo', 'socket']), sizeBytes: z.number(),
  mode: z.string().describe('octal, e.g. 0644'), uid: z.number(), gid: z.number(), mtime: iso, target: z.string().nullable().describe('a symlink\'s target'),
});

const listingSchema = z.object({
  filesystems: z.array(z.object({ id: z.string(), type: z.string() })).optional().describe('without ?path: the filesystems found'),
  fs: z.string().optional(),
  path: z.string().optional(),
  entries: z.array(entrySchema).optional().describe('with ?path: the directory\'s entries (or the one entry of a file)'),
});

const foundSchema = z.object({
  files: z.array(z.object({
    vm: z.string(), vmKey: z.string(), fs: z.string(), path: z.string(), type: z.string(),
    versions: z.array(z.object({
      sizeBytes: z.number(), mtime: iso, sha256: z.string().nullable().describe('null past the index\'s hash size limit'),
      backups: z.array(z.object({ repository: z.string(), backupId: z.string(), time: iso })).describe('oldest first'),
    })),
  })),
  truncated: z.boolean().describe('more matches than `limit`: narrow the name'),
});

function sinceMsOf(since: string | undefined): number | null {
  if (since === undefined) return null;
  const back = parseDuration(since);
  if (back !== null) return Date.now() - back;
  const at = Date.parse(since);
  if (Number.isNaN(at)) throw new VmbakError('USAGE', { detail: `since=${since}: give an ISO date or a duration back from now (7d)` });
  return at;
}

/** RFC 6266: an ASCII fallback and the UTF-8 name. */
function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

async function download(deps: ServerDeps, p: z.output<typeof backupParams>, path: string, format: 'tar' | 'zip' | undefined, reply: import('fastify').FastifyReply) {
  const d = await deps.controller.files.download(p.repository, p.backupId, path, format ?? null);
  const stream = createReadStream(d.path);
  stream.once('close', () => { void d.cleanup(); });
  return reply.code(200).header('content-type', d.contentType).header('content-length', d.sizeBytes)
    .header('content-disposition', contentDisposition(d.fileName)).send(stream);
}

export const fileRoutes = [
  route({
    method: 'GET', url: '/backups/:repository/:backupId/files', access: 'viewer', tags: ['files'],
    summary: 'A backup\'s filesystems, or the entries of one directory (starts a browsing appliance on first use: ~15 s)',
    params: backupParams, query: z.strictObject({ path: pathField.optional() }), response: listingSchema,
    async handler({ deps, params, query }) {
      const l = await deps.controller.files.browse(params.repository, params.backupId, query.path ?? null);
      if (l.kind === 'filesystems') return { filesystems: l.filesystems.map((f) => ({ id: f.id, type: f.type })) };
      return {
        fs: l.fs, path: l.path,
        entries: l.entries.map((e) => ({ name: e.name, type: e.type, sizeBytes: e.sizeBytes, mode: `0${e.mode.toString(8).padStart(3, '0')}`, uid: e.uid, gid: e.gid, mtime: new Date(e.mtimeMs).toISOString(), target: e.target })),
      };
    },
  }),
  route({
    method: 'GET', url: '/backups/:repository/:backupId/files/download', access: 'operator', tags: ['files'], download: true,
    summary: 'A file as is, or a file or folder as one archive (a folder without format: tar)',
    params: backupParams,
    query: z.strictObject({ path: pathField, format: z.enum(['tar', 'zip']).optional().describe('archive format; a folder is always archived') }),
    async handler({ deps, params, query, reply }) {
      await download(deps, params, query.path, query.format, reply);
    },
  }),
  route({
    method: 'GET', url: '/backups/:repository/:backupId/files/index', access: 'viewer', tags: ['files'],
    summary: 'Whether a backup\'s files are indexed, so /files/find searches them',
    params: backupParams,
    response: z.object({ indexed: z.boolean(), entryCount: z.number().int().nullable(), cachedMs: z.number().nullable().describe('when the catalog took its copy of the index') }),
    async handler({ deps, params }) {
      const index = await fileIndexOf(deps.controller.catalog, params.repository, params.backupId);
      return { indexed: index !== null, entryCount: index?.entryCount ?? null, cachedMs: index?.cachedMs ?? null };
    },
  }),
  route({
    method: 'GET', url: '/files/find', access: 'viewer', tags: ['files'],
    summary: 'Which VMs and points in time hold a file, in which versions (size, mtime, SHA-256), from the file indexes',
    query: z.strictObject({
      name: z.string().min(1).describe('file name or glob (* ?), case-insensitive; with a / it matches the whole path'),
      vm: z.string().min(1).optional().describe('a VM name or UUID'),
      since: z.string().min(1).optional().describe('backups taken since: an ISO date or a duration back from now (7d)'),
      limit: z.coerce.number().int().min(1).max(100_000).optional().describe('matching entries at most (default 10 000)'),
    }),
    response: foundSchema,
    async handler({ deps, query }) {
      const r = await deps.controller.files.find({ pattern: query.name, vm: query.vm ?? null, sinceMs: sinceMsOf(query.since), maxHits: query.limit ?? 10_000 });
      return {
        truncated: r.truncated,
        files: r.files.map((f) => ({
          vm: f.vmName, vmKey: f.vmKey, fs: f.fs, path: f.path, type: f.type,
          versions: f.versions.map((v) => ({
            sizeBytes: v.sizeBytes, mtime: new Date(v.mtimeMs).toISOString(), sha256: v.sha256,
            backups: v.backups.map((b) => ({ repository: b.repository ?? '', backupId: b.backupId, time: new Date(b.timeMs).toISOString() })),
          })),
        })),
      };
    },
  }),
];
