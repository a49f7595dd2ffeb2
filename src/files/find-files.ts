// "Which VMs and which points in time hold invoice-2026-11.pdf, in which versions": a search
// over file indexes. A version is one (size, mtime, SHA-256) of one path; the backups that
// hold it are listed under it, oldest first. The matching itself takes plain index entries,
// so the CLI (reading the repository's index objects) and the controller (reading its
// catalog's cache of them) answer alike.

import { VmbakError } from '../core/index.ts';
import type { IndexedEntry, IndexedType } from '../repository/index.ts';

export interface FindQuery {
  /** A glob (`*`, `?`) matched against the file name, or against the whole path when it holds a `/`; case-insensitive. */
  readonly pattern: string;
  /** VM name, UUID or key. */
  readonly vm?: string | null;
  /** Only backups taken at or after this time. */
  readonly sinceMs?: number | null;
  /** Stop after this many matching entries (hostile or huge result sets). */
  readonly maxHits?: number;
}

export interface IndexedBackupRef {
  /** The controller's repository name; absent when searching one repository. */
  readonly repository?: string;
  readonly backupId: string;
  readonly vmKey: string;
  readonly vmName: string;
  readonly timeMs: number;
}

export interface FoundVersion {
  readonly sizeBytes: number;
  readonly mtimeMs: number;
  readonly sha256: string | null;
  /** Backups holding this version, oldest first. */
  readonly backups: { repository?: string; backupId: string; timeMs: number }[];
}

export interface FoundFile {
  readonly vmKey: string;
  readonly vmName: string;
  readonly fs: string;
  readonly path: string;
  readonly type: IndexedType;
  readonly versions: FoundVersion[];
}

export interface FoundEntry { readonly backup: IndexedBackupRef; readonly fs: string; readonly entry: IndexedEntry }

export const DEFAULT_MAX_HITS = 100_000;

/** A case-insensitive RegExp for a glob; USAGE for an empty one. */
export function globMatcher(pattern: string): (path: string) => boolean {
  if (pattern.trim() === '') throw new VmbakError('USAGE', { detail: 'give a file name or glob to find, e.g. invoice-2026-11.pdf or "*.pdf"' });
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  const byPath = pattern.includes('/');
  const re = new RegExp(byPath ? `^${pattern.startsWith('/') ? '' : '(?:.*/)?'}${source}$` : `^${source}$`, 'i');
  return byPath ? (path) => re.test(path) : (path) => re.test(path.slice(path.lastIndexOf('/') + 1));
}

export function backupSelected(b: IndexedBackupRef, q: FindQuery, vmMatches: (b: IndexedBackupRef) => boolean): boolean {
  return (q.sinceMs === null || q.sinceMs === undefined || b.timeMs >= q.sinceMs) && (!q.vm || vmMatches(b));
}

/** Groups matching entries into files and their versions; input in any order. */
export function groupVersions(found: readonly FoundEntry[]): FoundFile[] {
  const files = new Map<string, FoundFile>();
  for (const { backup, fs, entry } of [...found].sort((a, b) => a.backup.timeMs - b.backup.timeMs)) {
    const key = JSON.stringify([backup.vmKey, fs, entry.path]);
    let file = files.get(key);
    if (!file) files.set(key, file = { vmKey: backup.vmKey, vmName: backup.vmName, fs, path: entry.path, type: entry.type, versions: [] });
    let version = file.versions.find((v) => v.sizeBytes === entry.sizeBytes && v.mtimeMs === entry.mtimeMs && v.sha256 === entry.sha256);
    if (!version) file.versions.push(version = { sizeBytes: entry.sizeBytes, mtimeMs: entry.mtimeMs, sha256: entry.sha256, backups: [] });
    version.backups.push({ ...(backup.repository !== undefined ? { repository: backup.repository } : {}), backupId: backup.backupId, timeMs: backup.timeMs });
  }
  return [...files.values()].sort((a, b) => (a.vmName < b.vmName ? -1 : a.vmName > b.vmName ? 1 : a.path < b.path ? -1 : a.path > b.path ? 1 : a.fs < b.fs ? -1 : 1));
}
