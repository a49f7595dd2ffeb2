// The file-level restore operations the CLI (and later the API) share: list the filesystems
// or a directory of a backup, and copy guest paths out into a directory or a tar archive. Each
// call opens one appliance and closes it; a long-lived browser (openFileBrowser) serves many.

import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { VmbakError } from '../core/index.ts';
import type { Manifest, Repository } from '../repository/index.ts';
import { openFileBrowser, type FileBrowser } from './browser.ts';
import { copyOut, listPath, statPath, writeArchive, type CopiedPath, type FileEntry } from './browse.ts';
import { parseFilePath, type Filesystem } from './filesystems.ts';

export interface FilesRequest {
  readonly repo: Repository;
  readonly backup: Manifest;
}

export type FilesListing =
  | { readonly kind: 'filesystems'; readonly launchMs: number; readonly filesystems: readonly Filesystem[] }
  | { readonly kind: 'entries'; readonly launchMs: number; readonly fs: string; readonly path: string; readonly entries: readonly FileEntry[] };

/** Without a path: the filesystems found; with `ID:/path`: that directory's entries. */
export async function listBackupFiles(req: FilesRequest, spec: string | null): Promise<FilesListing> {
  const where = spec === null ? null : parseFilePath(spec);
  return withBrowser(req, async (b) => {
    if (where === null) return { kind: 'filesystems', launchMs: b.launchMs, filesystems: b.filesystems };
    const entries = await listPath(b, where.fs, where.path);
    return { kind: 'entries', launchMs: b.launchMs, fs: where.fs, path: where.path, entries };
  });
}

export interface FilesGetRequest extends FilesRequest {
  readonly specs: readonly string[];
  /** Copy into this directory (each path as DIR/<its name>)… */
  readonly toDir: string | null;
  /** …or write one tar archive of them. */
  readonly archive: string | null;
}

export async function getBackupFiles(req: FilesGetRequest): Promise<{ launchMs: number; copied: CopiedPath[] }> {
  if ((req.toDir === null) === (req.archive === null)) throw new VmbakError('USAGE', { detail: 'files get needs exactly one of --to DIR, --archive FILE.tar' });
  if (req.archive !== null && !req.archive.endsWith('.tar')) throw new VmbakError('USAGE', { detail: `--archive ${req.archive}: only .tar archives are written` });
  const wanted = req.specs.map(parseFilePath);
  if (wanted.length === 0) throw new VmbakError('USAGE', { detail: 'files get needs at least one FILESYSTEM:/path' });
  return withBrowser(req, async (b) => {
    // Every path is checked first, so an unknown one leaves nothing half-copied behind.
    for (const w of wanted) await statPath(b, w.fs, w.path);
    // An archive is assembled in a private directory beside it, then tarred and removed.
    const staging = req.archive !== null ? await mkdtemp(join(dirname(req.archive), `.${basename(req.archive)}.vmbak-`)) : null;
    try {
      const copied: CopiedPath[] = [];
      for (const w of wanted) copied.push(await copyOut(b, w.fs, w.path, staging ?? req.toDir!));
      if (staging !== null) await writeArchive(staging, copied.map((c) => basename(c.to)), req.archive!);
      return { launchMs: b.launchMs, copied: staging === null ? copied : copied.map((c) => ({ ...c, to: `${req.archive}:${basename(c.to)}` })) };
    } finally {
      if (staging !== null) await rm(staging, { recursive: true, force: true });
    }
  });
}

async function withBrowser<T>(req: FilesRequest, work: (b: FileBrowser) => Promise<T>): Promise<T> {
  const b = await openFileBrowser({ repo: req.repo, backup: req.backup });
  try {
    return await work(b);
  } finally {
    await b.close();
  }
}
