// Restores a backup's disks (all, or one) into a directory as sparse raw or qcow2 images named
// after the disks, with the VM's domain XML and state files beside them; optionally proves
// each restored disk against the digest in the manifest.

import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VmbakError, describeError, renameDurably, syncPath } from '../core/index.ts';
import { acquireLock, loadChunkTable, noteGcPlan, operationLockName, type Manifest, type Repository } from '../repository/index.ts';
import type { WorkerPool } from './worker-pool.ts';
import { restoreDiskToRaw, temporaryPathFor } from './restore-disk.ts';
import { digestRawImage } from './disk-digest.ts';
import type { ProgressCounters } from './progress.ts';

const run = promisify(execFile);

export interface RestoreRequest {
  readonly repo: Repository;
  readonly manifest: Manifest;
  readonly toDir: string;
  readonly disk: string | null;
  readonly format: 'raw' | 'qcow2';
  readonly verify: boolean;
  readonly pool: WorkerPool;
  readonly signal: AbortSignal;
  readonly progress: ProgressCounters;
}

export interface RestoredDisk {
  readonly name: string;
  readonly path: string;
  readonly sizeBytes: number;
  readonly verified: boolean;
}

export async function restoreBackup(req: RestoreRequest): Promise<RestoredDisk[]> {
  const { manifest, repo } = req;
  const disks = req.disk === null ? manifest.disks : manifest.disks.filter((d) => d.name === req.disk);
  if (disks.length === 0) {
    throw new VmbakError('DISK_NOT_IN_BACKUP', { backupId: manifest.backupId, disk: req.disk ?? '', disks: manifest.disks.map((d) => d.name).join(', ') || 'none' });
  }
  await mkdir(req.toDir, { recursive: true });
  for (const d of disks) await refuseExisting(join(req.toDir, `${d.name}.${req.format}`));
  // A restore is an operation gc must wait for: it reads packs found through the table.
  const lock = await acquireLock(repo.target, operationLockName(), `restore of ${manifest.backupId}`, 'restore');
  // Without the lease gc may delete what is still to be read: stop rather than fail oddly.
  const signal = AbortSignal.any([req.signal, lock.signal]);
  try {
    await noteGcPlan(repo, lock);
    const table = await loadChunkTable(repo.target, repo.keys, new Set(), repo.config.repositoryId);
    const restored: RestoredDisk[] = [];
    for (const d of disks) {
      const index = await repo.readDiskIndex(manifest.backupId, d.name);
      if (index.digest() !== d.digest) throw new VmbakError('INDEX_CORRUPT', { backupId: manifest.backupId, disk: d.name, detail: 'does not match the digest in the manifest' });
      const finalPath = join(req.toDir, `${d.name}.${req.format}`);
      const rawPath = req.format === 'raw' ? finalPath : temporaryPathFor(join(req.toDir, `${d.name}.raw`));
      try {
        await restoreDiskToRaw({ repo, table, pool: req.pool, backupId: manifest.backupId, disk: d.name, index, outputPath: rawPath, signal, progress: req.progress, durable: rawPath === finalPath });
        if (req.verify) {
          const digest = await digestRawImage(rawPath, d.sizeBytes, d.chunkSizeBytes, req.pool, signal);
          if (digest !== d.digest) throw new VmbakError('DIGEST_MISMATCH', { disk: d.name, backupId: manifest.backupId });
        }
        if (req.format === 'qcow2') await convertToQcow2(rawPath, finalPath);
      } catch (err) {
        await rm(finalPath, { force: true });
        throw err;
      } finally {
        if (rawPath !== finalPath) await rm(rawPath, { force: true });
      }
      restored.push({ name: d.name, path: finalPath, sizeBytes: d.sizeBytes, verified: req.verify });
    }
    if (req.disk === null) await writeVmFiles(req.toDir, manifest, req.repo.displayUrl);
    if (signal.aborted) throw signal.reason;
    return restored;
  } finally {
    await lock.release().catch(() => {});
  }
}

async function refuseExisting(path: string): Promise<void> {
  if (await stat(path).then(() => true, () => false)) throw new VmbakError('OUTPUT_EXISTS', { path });
}

async function convertToQcow2(rawPath: string, qcow2Path: string): Promise<void> {
  const tmp = temporaryPathFor(qcow2Path);
  try {
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', rawPath, tmp]);
    // On disk before it takes the final name, as the raw restore is (restore-disk.ts).
    await syncPath(tmp);
    await renameDurably(tmp, qcow2Path);
  } catch (err) {
    await rm(tmp, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VmbakError('TOOL_MISSING', { tool: 'qemu-img', hint: 'apt-get install qemu-utils' });
    throw new VmbakError('OUTPUT_IO', { path: qcow2Path, detail: describeError(err) });
  }
}

/** domain.xml, and the VM's state files (nvram/…, tpm/…) readable by the owner only: TPM state holds secrets. */
async function writeVmFiles(dir: string, manifest: Manifest, repo: string): Promise<void> {
  // On disk before the restore reports, like the images: files, then the folders naming them.
  const written: string[] = [];
  if (manifest.domainXml) {
    await writeFile(join(dir, 'domain.xml'), manifest.domainXml);
    written.push(join(dir, 'domain.xml'));
  }
  const root = resolve(dir);
  for (const f of manifest.stateFiles) {
    const path = resolve(root, f.name);
    if (!path.startsWith(root + sep)) {
      throw new VmbakError('MANIFEST_CORRUPT', { backupId: manifest.backupId, repo, detail: `state file name ${JSON.stringify(f.name)} leaves the output folder` });
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, Buffer.from(f.dataBase64, 'base64'), { mode: 0o600 });
    written.push(path);
  }
  for (const path of written) await syncPath(path);
  if (written.length === 0) return;
  for (const folder of new Set([...written.map((p) => dirname(p)), root])) await syncPath(folder);
}
