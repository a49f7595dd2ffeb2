// Builds a backup's file index. Incremental by construction: the newest earlier backup of
// the same VM that has an index is the base, and a filesystem whose blocks (the chunk ids
// under its extents, extents.ts) equal the base's is not walked — its entries are copied.
// When every disk's digest equals the base's, not even the appliance is started. The index
// is written after the backup's manifest exists and is checked to still exist afterwards,
// so an index never outlives its backup for longer than the next gc.

import { VmbakError, isVmbakError } from '../core/index.ts';
import { listBackups, type DiskIndex, type FileIndex, type IndexedEntry, type IndexedFilesystem, type Manifest, type Repository } from '../repository/index.ts';
import { openFileBrowser, type FileBrowser } from './browser.ts';
import { extentDigest, findExtents } from './extents.ts';
import { whyUnbrowsable } from './filesystems.ts';
import { DEFAULT_WALK_LIMITS, walkMounted, type WalkLimits, type Walked } from './walk.ts';

export interface IndexRequest {
  readonly repo: Repository;
  readonly backup: Manifest;
  readonly limits?: Partial<WalkLimits>;
  /** Walk every filesystem even when its blocks are unchanged. */
  readonly full?: boolean;
  readonly onFilesystem?: (fs: IndexedFilesystem) => void;
}

export interface IndexResult {
  readonly index: FileIndex;
  /** The earlier backup whose index was the base, or null. */
  readonly baseBackupId: string | null;
  readonly walked: readonly string[];
  readonly reused: readonly string[];
  /** Null when no appliance was needed. */
  readonly launchMs: number | null;
  readonly durationMs: number;
}

/** Builds the index and stores it in the repository beside the backup's manifest. */
export async function indexBackup(req: IndexRequest): Promise<IndexResult> {
  const result = await buildFileIndex(req);
  await req.repo.writeFileIndex(result.index);
  try {
    await req.repo.readManifest(req.backup.backupId);
  } catch (err) {
    // Pruned while we walked: the index must not outlive its backup.
    if (isVmbakError(err, 'BACKUP_NOT_FOUND')) await req.repo.deleteFileIndex(req.backup.backupId).catch(() => {});
    throw err;
  }
  return result;
}

export async function buildFileIndex(req: IndexRequest): Promise<IndexResult> {
  const started = Date.now();
  const limits = { ...DEFAULT_WALK_LIMITS, ...req.limits };
  const base = req.full ? null : await findBase(req.repo, req.backup, limits.hashLimitBytes);
  const finish = (filesystems: IndexedFilesystem[], entries: IndexedEntry[][], launchMs: number | null): IndexResult => {
    const durationMs = Date.now() - started;
    const index: FileIndex = {
      header: { format: 'vmbak-file-index', version: 1, backupId: req.backup.backupId, createdAt: new Date().toISOString(), hashLimitBytes: limits.hashLimitBytes, durationMs, filesystems },
      entries,
    };
    return {
      index, baseBackupId: base?.manifest.backupId ?? null, launchMs, durationMs,
      walked: filesystems.filter((f) => f.reusedFrom === null && f.error === null).map((f) => f.id),
      reused: filesystems.filter((f) => f.reusedFrom !== null).map((f) => f.id),
    };
  };
  if (base && sameDisks(base.manifest, req.backup)) {
    const filesystems = base.index.header.filesystems.map((f) => ({ ...f, reusedFrom: f.error === null ? f.reusedFrom ?? base.manifest.backupId : null }));
    filesystems.forEach((f) => req.onFilesystem?.(f));
    return finish(filesystems, base.index.entries.map((e) => [...e]), null);
  }
  const browser = await openFileBrowser({ repo: req.repo, backup: req.backup });
  try {
    const { filesystems, entries } = await indexFilesystems(req, browser, base, limits);
    return finish(filesystems, entries, browser.launchMs);
  } finally {
    await browser.close();
  }
}

interface Base { readonly manifest: Manifest; readonly index: FileIndex }

/** The newest earlier backup of the same VM with a readable index made with the same hash limit. */
async function findBase(repo: Repository, backup: Manifest, hashLimitBytes: number): Promise<Base | null> {
  const earlier = (await listBackups(repo)).backups.filter((m) => m.vm.key === backup.vm.key && m.backupId !== backup.backupId && m.time <= backup.time);
  for (const manifest of earlier.reverse().slice(0, 10)) {
    const index = await repo.readFileIndex(manifest.backupId).catch(() => null);
    if (index && index.header.hashLimitBytes === hashLimitBytes) return { manifest, index };
  }
  return null;
}

function sameDisks(a: Manifest, b: Manifest): boolean {
  return a.disks.length === b.disks.length && a.disks.every((d) => b.disks.some((e) => e.name === d.name && e.digest === d.digest && e.sizeBytes === d.sizeBytes));
}

async function indexFilesystems(req: IndexRequest, b: FileBrowser, base: Base | null, limits: WalkLimits) {
  const diskIndexes = new Map<string, DiskIndex>();
  for (const d of req.backup.disks) diskIndexes.set(d.name, await req.repo.readDiskIndex(req.backup.backupId, d.name));
  const extents = await findExtents(b.guestfish, b.filesystems.map((f) => f.device), b.diskOf);
  const filesystems: IndexedFilesystem[] = [];
  const entries: IndexedEntry[][] = [];
  for (const fs of b.filesystems) {
    const fsExtents = extents.get(fs.device) ?? null;
    const digest = fsExtents ? extentDigest(fsExtents, diskIndexes) : null;
    const record = { id: fs.id, type: fs.type, extents: fsExtents, extentDigest: digest };
    const at = base?.index.header.filesystems.findIndex((f) => f.id === fs.id && f.type === fs.type && f.error === null && digest !== null && f.extentDigest === digest) ?? -1;
    let done: { fs: IndexedFilesystem; entries: IndexedEntry[] };
    if (base && at >= 0) {
      const prev = base.index.header.filesystems[at]!;
      done = { fs: { ...prev, ...record, reusedFrom: prev.reusedFrom ?? base.manifest.backupId }, entries: [...base.index.entries[at]!] };
    } else {
      done = await walkOne(req, b, fs.id, fs.type, limits).then(
        (w) => ({ fs: { ...record, reusedFrom: null, entryCount: w.entries.length, error: null, ...(w.warnings.length > 0 ? { warnings: w.warnings } : {}) }, entries: w.entries }),
        (err: unknown) => {
          // One bad filesystem is recorded and reported; the rest of the backup is still indexed.
          if (!(err instanceof VmbakError) || err.code === 'FILE_BROWSER_FAILED') throw err;
          return { fs: { ...record, reusedFrom: null, entryCount: 0, error: err.message }, entries: [] };
        },
      );
    }
    filesystems.push(done.fs);
    entries.push(done.entries);
    req.onFilesystem?.(done.fs);
  }
  return { filesystems, entries };
}

async function walkOne(req: IndexRequest, b: FileBrowser, fsId: string, type: string, limits: WalkLimits): Promise<Walked> {
  const why = whyUnbrowsable(type);
  if (why) throw new VmbakError('FILESYSTEM_UNSUPPORTED', { fs: fsId, backupId: req.backup.backupId, detail: `${type}: ${why}` });
  const g = await b.mounted(fsId);
  return walkMounted(g, fsId, req.backup.backupId, limits);
}
