// File-level work of the controller for the API and the console: search the catalog's cache
// of file indexes, keep it in step with the repositories' index objects, browse a backup's
// directories and hand out files or folders (tar or zip) through browsing sessions.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import {
  cacheFileIndex, dropOrphanFileIndexes, getBackup, listUncachedBackups, searchCachedEntries, type Catalog, type SecretsBox,
} from '../catalog/index.ts';
import { VmbakError } from '../core/index.ts';
import {
  DEFAULT_MAX_HITS, copyOut, globMatcher, groupVersions, listPath, parseFilePath, statPath, writeArchive, type FileEntry, type FindQuery, type FoundFile, type Filesystem,
} from '../files/index.ts';
import { FileSessions, type FileSessionOptions } from './file-sessions.ts';
import { withRepository } from './repositories.ts';
import type { JobStore } from './job-store.ts';

const run = promisify(execFile);

export type FileListing =
  | { readonly kind: 'filesystems'; readonly filesystems: readonly Filesystem[] }
  | { readonly kind: 'entries'; readonly fs: string; readonly path: string; readonly entries: readonly FileEntry[] };

export interface FileDownload {
  /** A temporary file holding the answer; call cleanup() once it is sent. */
  readonly path: string;
  readonly fileName: string;
  readonly contentType: string;
  readonly sizeBytes: number;
  cleanup(): Promise<void>;
}

export type ArchiveFormat = 'tar' | 'zip';

export class ControllerFiles {
  readonly sessions: FileSessions;
  private readonly catalog: Catalog;
  private readonly store: JobStore;

  constructor(catalog: Catalog, store: JobStore, opts: Partial<FileSessionOptions> = {}) {
    this.catalog = catalog;
    this.store = store;
    this.sessions = new FileSessions(store, { idleTimeoutMs: opts.idleTimeoutMs ?? 5 * 60_000, maxSessions: opts.maxSessions ?? 2 });
  }

  /** Every version of every matching file the cached indexes hold. */
  async find(q: FindQuery): Promise<{ files: FoundFile[]; truncated: boolean }> {
    const matches = globMatcher(q.pattern);
    const maxHits = q.maxHits ?? DEFAULT_MAX_HITS;
    const nameGlob = q.pattern.slice(q.pattern.lastIndexOf('/') + 1) || '*';
    const rows = await searchCachedEntries(this.catalog, { nameGlob, vm: q.vm ?? null, sinceMs: q.sinceMs ?? null, limit: maxHits + 1 });
    const hits = rows.filter((r) => matches(r.entry.path));
    return {
      files: groupVersions(hits.slice(0, maxHits).map((r) => ({ backup: r.ref, fs: r.fs, entry: r.entry }))),
      truncated: rows.length > maxHits,
    };
  }

  /** Copies index objects the catalog lacks into it and drops those of backups it no longer lists. */
  async syncIndexes(repository: string): Promise<{ cached: number; dropped: number }> {
    const dropped = await dropOrphanFileIndexes(this.catalog);
    const missing = await listUncachedBackups(this.catalog, repository);
    let cached = 0;
    if (missing.length > 0) {
      // Backups without an index object are looked at again at every sync: one `get` each.
      await withRepository(this.store, repository, async (repo) => {
        for (const ref of missing) {
          const index = await repo.readFileIndex(ref.backupId);
          if (!index) continue;
          await cacheFileIndex(this.catalog, ref, index);
          cached++;
        }
      });
    }
    return { cached, dropped };
  }

  async browse(repository: string, backupId: string, spec: string | null): Promise<FileListing> {
    await this.#known(repository, backupId);
    const where = spec === null ? null : parseFilePath(spec);
    return this.sessions.with(repository, backupId, async (b) => {
      if (where === null) return { kind: 'filesystems', filesystems: b.filesystems };
      return { kind: 'entries', fs: where.fs, path: where.path, entries: await listPath(b, where.fs, where.path) };
    });
  }

  /** A file as itself, or a file or folder as one tar or zip archive. */
  async download(repository: string, backupId: string, spec: string, format: ArchiveFormat | null): Promise<FileDownload> {
    await this.#known(repository, backupId);
    const where = parseFilePath(spec);
    const dir = await mkdtemp(join(tmpdir(), 'vmbak-download-'));
    const cleanup = () => rm(dir, { recursive: true, force: true });
    try {
      return await this.sessions.with(repository, backupId, async (b) => {
        const self = await statPath(b, where.fs, where.path);
        const chosen = format ?? (self.type === 'file' ? null : 'tar');
        const copied = await copyOut(b, where.fs, where.path, join(dir, 'out'));
        const name = basename(copied.to);
        if (chosen === null) return { path: copied.to, fileName: name, contentType: 'application/octet-stream', sizeBytes: (await stat(copied.to)).size, cleanup };
        const archive = join(dir, `${name}.${chosen}`);
        if (chosen === 'tar') await writeArchive(join(dir, 'out'), [name], archive);
        else await zipTree(join(dir, 'out'), name, archive);
        return { path: archive, fileName: `${name}.${chosen}`, contentType: chosen === 'tar' ? 'application/x-tar' : 'application/zip', sizeBytes: (await stat(archive)).size, cleanup };
      });
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.sessions.closeAll();
  }

  async #known(repository: string, backupId: string): Promise<void> {
    if (!(await getBackup(this.catalog, repository, backupId))) throw new VmbakError('BACKUP_NOT_FOUND', { backupId, repo: repository });
  }
}

/** Info-ZIP's zip, storing symlinks as links (-y) rather than following them out of the tree. */
async function zipTree(dir: string, name: string, archive: string): Promise<void> {
  try {
    await run('zip', ['-q', '-r', '-y', archive, name], { cwd: dir, maxBuffer: 16 << 20 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VmbakError('TOOL_MISSING', { tool: 'zip', hint: 'apt-get install zip, or run scripts/install-system-deps.sh' });
    throw new VmbakError('FILE_BROWSER_FAILED', { detail: `zip: ${(err as Error).message.split('\n')[0]}` });
  }
}
