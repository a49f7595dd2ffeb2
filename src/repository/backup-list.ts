// Finding backups: every manifest object is a backup. Damaged manifests are reported, not
// hidden, and a failed listing is an error, never an empty list.

import { randomBytes } from 'node:crypto';
import { VmbakError, isVmbakError } from '../core/index.ts';
import type { Repository } from './repository.ts';
import type { Manifest } from './manifest.ts';
import { BACKUPS_PREFIX, splitBackupObject } from './layout.ts';
import { forEachLimited } from './chunk-store.ts';

export interface BackupListing {
  /** Oldest first. */
  readonly backups: Manifest[];
  readonly damaged: { backupId: string; detail: string }[];
}

export async function listBackupIds(repo: Repository): Promise<string[]> {
  const objects = await repo.target.list(BACKUPS_PREFIX);
  return objects.map((o) => splitBackupObject(o.name)).filter((s): s is [string, string] => s !== null && s[1] === 'manifest').map((s) => s[0]);
}

export async function listBackups(repo: Repository): Promise<BackupListing> {
  const backups: Manifest[] = [];
  const damaged: { backupId: string; detail: string }[] = [];
  await forEachLimited(await listBackupIds(repo), 8, async (backupId) => {
    try {
      backups.push(await repo.readManifest(backupId));
    } catch (err) {
      if (isVmbakError(err, 'MANIFEST_CORRUPT')) damaged.push({ backupId, detail: err.message });
      else throw err;
    }
  });
  backups.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.backupId < b.backupId ? -1 : 1));
  return { backups, damaged };
}

export function matchesVm(manifest: Manifest, vm: string): boolean {
  return manifest.vm.name === vm || manifest.vm.key === vm || manifest.vm.uuid === vm;
}

/**
 * Resolves what a user typed: a full id, a unique prefix of at least 4 characters, `latest`,
 * or `VM@latest` (VM by name or UUID).
 */
export async function resolveBackupRef(repo: Repository, ref: string): Promise<Manifest> {
  const at = /^(.+)@latest$/.exec(ref);
  if (ref === 'latest' || at) {
    const { backups } = await listBackups(repo);
    const candidates = at ? backups.filter((m) => matchesVm(m, at[1]!)) : backups;
    const newest = candidates[candidates.length - 1];
    if (!newest) throw new VmbakError('BACKUP_NOT_FOUND', { backupId: ref, repo: repo.displayUrl });
    return newest;
  }
  const ids = await listBackupIds(repo);
  if (ids.includes(ref)) return repo.readManifest(ref);
  const matches = ref.length >= 4 ? ids.filter((id) => id.startsWith(ref)) : [];
  if (matches.length === 1) return repo.readManifest(matches[0]!);
  if (matches.length > 1) throw new VmbakError('BACKUP_ID_AMBIGUOUS', { backupId: ref, repo: repo.displayUrl, matches: matches.slice(0, 5).join(', ') });
  throw new VmbakError('BACKUP_NOT_FOUND', { backupId: ref, repo: repo.displayUrl });
}

/** The newest backup of a VM (by its key), the base of the next backup's comparison. */
export async function latestBackupOf(repo: Repository, vmKey: string): Promise<Manifest | null> {
  const { backups } = await listBackups(repo);
  const mine = backups.filter((m) => m.vm.key === vmKey);
  return mine[mine.length - 1] ?? null;
}

const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** A short id: 10 characters of Crockford-style base32 (50 bits); uniqueness is enforced on write. */
export function newBackupId(): string {
  const bytes = randomBytes(10);
  return Array.from(bytes, (b) => ID_ALPHABET[b & 31]).join('');
}
