// Puts a backup's boot state back: the UEFI variable store into one file and the swtpm state
// into the directory swtpm keeps per VM UUID. Both are written completely beside their place
// and then renamed into it, so a failed restore leaves the old state (or none), never a mix
// of old and new files; the VM must be shut off, as swtpm and QEMU hold them while it runs.

import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { VmbakError, describeError, isVmbakError, renameDurably, syncPath } from '../../core/index.ts';
import type { VmStateFile } from '../../core/index.ts';
import { removeTree } from '../../host/index.ts';
import { SWTPM_STATE_ROOT, isSafeRelativePath, sortStateFiles, tpmStateDir } from './state-files.ts';
import { swtpmOwner, type FileOwner } from './swtpm-owner.ts';

export interface StateTarget {
  readonly uuid: string;
  /** Where the VM's variable store lives; null leaves a backed-up NVRAM unrestored. */
  readonly nvramPath: string | null;
  /** Over existing state (in place) or only where none exists yet (a new VM). */
  readonly replace: boolean;
  readonly swtpmRoot?: string;
}

export interface RestoredState {
  readonly nvramPath: string | null;
  readonly tpmStateDir: string | null;
}

/** Writes the NVRAM and TPM state among `files` (names nvram/…, tpm/…) for the VM `target`. */
export async function restoreVmState(files: readonly VmStateFile[], target: StateTarget): Promise<RestoredState> {
  const { nvram, tpm } = sortStateFiles(files);
  let nvramPath: string | null = null;
  if (nvram && target.nvramPath) {
    await writeNvramFile(target.nvramPath, nvram, target.replace);
    nvramPath = target.nvramPath;
  }
  const tpmDir = tpm.length > 0 ? await writeTpmState(target.uuid, tpm, target.replace, target.swtpmRoot) : null;
  return { nvramPath, tpmStateDir: tpmDir };
}

/**
 * Replacing keeps the old file's owner and mode (libvirt gave them); a new file is private to
 * the owner of its directory, as libvirt makes the variable stores it creates.
 */
export async function writeNvramFile(path: string, data: Buffer, replace: boolean): Promise<void> {
  const old = await stat(path).catch(missingIsNull);
  if (old && !replace) throw new VmbakError('OUTPUT_EXISTS', { path });
  await mkdir(dirname(path), { recursive: true });
  const owner = old ?? await stat(dirname(path));
  const tmp = `${path}.vmbak-tmp-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data, { flag: 'wx', mode: 0o600 });
    await chown(tmp, owner.uid, owner.gid);
    await chmod(tmp, old ? old.mode & 0o7777 : 0o600);
    // On disk before it replaces the VM's own, which holds the Secure Boot keys.
    await syncPath(tmp);
    await renameDurably(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new VmbakError('OUTPUT_IO', { path, detail: describeError(err) }, { cause: err });
  }
}

/**
 * The state directory is built under a temporary name in swtpm's root and swapped in whole:
 * the UUID directory root's and 0711 (as libvirt makes it), everything inside owned by the
 * swtpm user, directories 0700 and files 0600 (as swtpm makes them). In place keeps the owner
 * the old state had, which is the one libvirt last gave it.
 */
export async function writeTpmState(uuid: string, files: readonly VmStateFile[], replace: boolean, swtpmRoot = SWTPM_STATE_ROOT): Promise<string> {
  const dir = tpmStateDir(uuid, swtpmRoot);
  for (const f of files) {
    if (!isSafeRelativePath(f.name)) throw new VmbakError('OUTPUT_IO', { path: dir, detail: `TPM state file name ${JSON.stringify(f.name)} leaves the state directory` });
  }
  if (!replace && await stat(dir).then(() => true, () => false)) throw new VmbakError('OUTPUT_EXISTS', { path: dir });
  await mkdir(swtpmRoot, { recursive: true, mode: 0o711 });
  const owner = (replace ? await ownerInside(dir) : null) ?? await swtpmOwner();
  let staging: string | null = null;
  try {
    staging = await mkdtemp(join(swtpmRoot, `.vmbak-restore-${uuid}-`));
    await chmod(staging, 0o711);
    for (const f of files) {
      const path = join(staging, f.name);
      await makeOwnedDirs(staging, dirname(path), owner);
      await writeFile(path, f.data, { flag: 'wx', mode: 0o600 });
      await chown(path, owner.uid, owner.gid);
      await syncPath(path);
    }
    // The new state is on disk before it replaces the old (sealed secrets live there).
    await syncTree(staging);
    await swapIn(staging, dir);
    staging = null;
    return dir;
  } catch (err) {
    if (isVmbakError(err)) throw err;
    throw new VmbakError('OUTPUT_IO', { path: dir, detail: describeError(err) }, { cause: err });
  } finally {
    if (staging) await removeTree(staging).catch(() => undefined);
  }
}

/** fsyncs every directory under and including top (the files were synced as written). */
async function syncTree(top: string): Promise<void> {
  for (const entry of await readdir(top, { withFileTypes: true })) {
    if (entry.isDirectory()) await syncTree(join(top, entry.name));
  }
  await syncPath(top);
}

/** The owner of the first entry in the old state directory, or null if there is none. */
async function ownerInside(dir: string): Promise<FileOwner | null> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.sort()) {
    const s = await stat(join(dir, name)).catch(() => null);
    if (s) return { uid: s.uid, gid: s.gid };
  }
  return null;
}

async function makeOwnedDirs(top: string, dir: string, owner: FileOwner): Promise<void> {
  if (dir === top) return;
  await makeOwnedDirs(top, dirname(dir), owner);
  const made = await mkdir(dir, { mode: 0o700 }).then(() => true, (err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') return false;
    throw err;
  });
  if (made) await chown(dir, owner.uid, owner.gid);
}

/** The old directory is moved aside, not deleted, until the new one is in its place, durably. */
async function swapIn(staging: string, dir: string): Promise<void> {
  const old = await stat(dir).catch(missingIsNull);
  if (!old) {
    await renameDurably(staging, dir);
    return;
  }
  const aside = `${dirname(dir)}/.vmbak-old-${randomBytes(4).toString('hex')}`;
  await rename(dir, aside);
  try {
    await rename(staging, dir);
  } catch (err) {
    await rename(aside, dir);
    throw err;
  }
  await syncPath(dirname(dir));
  await removeTree(aside);
}

function missingIsNull(err: unknown): null {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
  throw err;
}
