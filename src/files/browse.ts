// Listing a guest directory and copying files out of it, keeping modes, owners, mtimes and
// symlinks. A directory leaves the appliance as a tar stream (tar-out, numeric owners) that
// the system tar unpacks — GNU tar refuses `..` members and defers symlinks, so a hostile
// archive cannot write outside the target; a single file is downloaded and its attributes
// set from lstat; a symlink is recreated, never followed.

import { execFile } from 'node:child_process';
import { chmod, chown, lchown, lutimes, mkdir, mkdtemp, rename, rm, symlink, utimes } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { VmbakError } from '../core/index.ts';
import { guestPath, type FileBrowser } from './browser.ts';
import { quote, type Guestfish } from './guestfish.ts';
import { GUEST_ROOT } from './filesystems.ts';

const run = promisify(execFile);

export type EntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface FileEntry {
  readonly name: string;
  readonly type: EntryType;
  readonly sizeBytes: number;
  /** Permission bits with setuid/setgid/sticky, e.g. 0o640. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
  /** The symlink's target; null for anything else. */
  readonly target: string | null;
}

/** A directory holding more entries than this is refused rather than listed (hostile guests). */
export const MAX_LISTED_ENTRIES = 200_000;
/** Copy-out of a big tree may take long; past this the appliance is stopped. */
const COPY_TIMEOUT_MS = 60 * 60_000;

const TYPES: Record<number, EntryType> = { 0o100000: 'file', 0o040000: 'dir', 0o120000: 'symlink', 0o020000: 'char', 0o060000: 'block', 0o010000: 'fifo', 0o140000: 'socket' };

/** The entries of a directory (sorted by name), or the one entry of a path that is not one. */
export async function listPath(b: FileBrowser, fsId: string, rawPath: string): Promise<FileEntry[]> {
  const g = await b.mounted(fsId);
  const path = guestPath(rawPath);
  const self = await stat(b, g, fsId, path);
  if (self.type !== 'dir') return [self];
  const names = await g.must(`ls ${quote(path)}`, 10 * 60_000);
  if (names.length > MAX_LISTED_ENTRIES) throw new VmbakError('FILE_BROWSER_FAILED', { detail: `${fsId}:${path} holds ${names.length} entries, more than the ${MAX_LISTED_ENTRIES} a listing shows` });
  const stats = await g.batch(names.map((n) => `lstatns ${quote(posix.join(path, n))}`), 10 * 60_000);
  const entries = names.map((name, i) => entryFrom(name, stats[i]!.lines));
  const links = entries.filter((e) => e.type === 'symlink');
  const targets = await g.batch(links.map((e) => `readlink ${quote(posix.join(path, e.name))}`));
  const targetOf = new Map(links.map((e, i) => [e.name, targets[i]!.lines.join('\n')]));
  return entries.map((e) => (e.type === 'symlink' ? { ...e, target: targetOf.get(e.name) ?? '' } : e)).sort((x, y) => (x.name < y.name ? -1 : 1));
}

/** The entry of one guest path (FILE_NOT_FOUND when there is none). */
export async function statPath(b: FileBrowser, fsId: string, rawPath: string): Promise<FileEntry> {
  return stat(b, await b.mounted(fsId), fsId, guestPath(rawPath));
}

async function stat(b: FileBrowser, g: Guestfish, fsId: string, path: string): Promise<FileEntry> {
  const r = await g.run(`lstatns ${quote(path)}`);
  if (r.error !== null) {
    if (/No such file|Not a directory/.test(r.error)) throw b.notFound(fsId, path);
    throw new VmbakError('FILE_BROWSER_FAILED', { detail: r.error });
  }
  const entry = entryFrom(path === '/' ? '/' : posix.basename(path), r.lines);
  if (entry.type !== 'symlink') return entry;
  return { ...entry, target: (await g.must(`readlink ${quote(path)}`)).join('\n') };
}

function entryFrom(name: string, lines: readonly string[]): FileEntry {
  const field = (key: string) => {
    const line = lines.find((l) => l.startsWith(`${key}: `));
    if (line === undefined) throw new VmbakError('FILE_BROWSER_FAILED', { detail: `no ${key} in the lstat of ${name}: ${lines.join(' ').slice(0, 200)}` });
    return Number(line.slice(key.length + 2));
  };
  const mode = field('st_mode');
  return {
    name, type: TYPES[mode & 0o170000] ?? 'file', sizeBytes: field('st_size'), mode: mode & 0o7777,
    uid: field('st_uid'), gid: field('st_gid'), mtimeMs: field('st_mtime_sec') * 1000 + Math.floor(field('st_mtime_nsec') / 1e6), target: null,
  };
}

export interface CopiedPath {
  readonly fs: string;
  readonly path: string;
  readonly type: EntryType;
  /** Where it landed on the host. */
  readonly to: string;
}

/** Copies a guest path (file, symlink, or directory recursively) to `toDir/<its name>`. */
export async function copyOut(b: FileBrowser, fsId: string, rawPath: string, toDir: string): Promise<CopiedPath> {
  const g = await b.mounted(fsId);
  const path = guestPath(rawPath);
  const self = await stat(b, g, fsId, path);
  const dest = join(toDir, path !== '/' ? posix.basename(path) : fsId === GUEST_ROOT ? 'guest-root' : fsId.replaceAll('/', '_'));
  await mkdir(toDir, { recursive: true });
  if (self.type === 'dir') await copyDirectory(g, path, dest);
  else if (self.type === 'symlink') await copySymlink(self, dest);
  else if (self.type === 'file') await copyFile(g, path, self, dest);
  else throw new VmbakError('FILE_BROWSER_FAILED', { detail: `${fsId}:${path} is a ${self.type}, not a file, directory or symlink` });
  return { fs: fsId, path, type: self.type, to: dest };
}

async function copyDirectory(g: Guestfish, path: string, dest: string): Promise<void> {
  const staging = await mkdtemp(`${dest}.vmbak-`);
  try {
    const tarFile = join(staging, 'tree.tar');
    await g.must(`tar-out ${quote(path)} ${quote(tarFile)} numericowner:true`, COPY_TIMEOUT_MS);
    const tree = join(staging, 'tree');
    await mkdir(tree);
    // -p and --numeric-owner: modes and (as root) owners exactly as in the guest.
    await run('tar', ['--numeric-owner', '-xpf', tarFile, '-C', tree], { maxBuffer: 16 << 20 });
    await rename(tree, dest);
  } catch (err) {
    if (err instanceof VmbakError) throw err;
    throw new VmbakError('FILE_BROWSER_FAILED', { detail: `unpacking ${path}: ${(err as Error).message.split('\n')[0]}` });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function copyFile(g: Guestfish, path: string, e: FileEntry, dest: string): Promise<void> {
  const part = `${dest}.vmbak-part`;
  await g.must(`download ${quote(path)} ${quote(part)}`, COPY_TIMEOUT_MS);
  await ownAsInGuest(() => chown(part, e.uid, e.gid));
  await chmod(part, e.mode);
  await utimes(part, e.mtimeMs / 1000, e.mtimeMs / 1000);
  await rename(part, dest);
}

async function copySymlink(e: FileEntry, dest: string): Promise<void> {
  await symlink(e.target ?? '', dest);
  await ownAsInGuest(() => lchown(dest, e.uid, e.gid));
  await lutimes(dest, e.mtimeMs / 1000, e.mtimeMs / 1000);
}

/** Owners are kept where the host allows it (root); elsewhere the files are the caller's, as with tar. */
async function ownAsInGuest(change: () => Promise<void>): Promise<void> {
  try {
    await change();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
  }
}

/** A tar of what `copyOut` wrote into `dir`, members named relative to it. */
export async function writeArchive(dir: string, names: readonly string[], archive: string): Promise<void> {
  await run('tar', ['--numeric-owner', '-cf', archive, '-C', dir, '--', ...names], { maxBuffer: 16 << 20 });
}
