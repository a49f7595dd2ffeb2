// Object names inside a repository. docs/format.md is the normative description; this file
// is the only place that spells the names.

export const CONFIG_OBJECT = 'config';
export const KEYS_PREFIX = 'keys/';
export const PACKS_PREFIX = 'packs/';
export const PACK_INDEX_PREFIX = 'index/';
export const BACKUPS_PREFIX = 'backups/';
export const LOCKS_PREFIX = 'locks/';
export const GC_PLAN_OBJECT = 'gc-plan';

export const packObject = (packId: string): string => `${PACKS_PREFIX}${packId.slice(0, 2)}/${packId}`;
export const packIndexObject = (packId: string): string => `${PACK_INDEX_PREFIX}${packId}`;
export const backupPrefix = (backupId: string): string => `${BACKUPS_PREFIX}${backupId}/`;
export const manifestObject = (backupId: string): string => `${BACKUPS_PREFIX}${backupId}/manifest`;
export const diskIndexObject = (backupId: string, disk: string): string => `${BACKUPS_PREFIX}${backupId}/${disk}.fidx`;
/** Written after the manifest (by the backup or by `vmbak index`); lives and dies with the backup's folder. */
export const fileIndexObject = (backupId: string): string => `${BACKUPS_PREFIX}${backupId}/files.index`;
export const keyObject = (keyId: string): string => `${KEYS_PREFIX}${keyId}`;
export const lockObject = (name: string): string => `${LOCKS_PREFIX}${name}.lock`;

export function packIdFromObject(name: string): string | null {
  const m = /^packs\/[0-9a-f]{2}\/([0-9a-f]{64})$/.exec(name);
  return m ? m[1]! : null;
}

export function packIdFromIndexObject(name: string): string | null {
  const m = /^index\/([0-9a-f]{64})$/.exec(name);
  return m ? m[1]! : null;
}

/** backups/<id>/<rest> → [id, rest] */
export function splitBackupObject(name: string): [string, string] | null {
  const m = /^backups\/([^/]+)\/(.+)$/.exec(name);
  return m ? [m[1]!, m[2]!] : null;
}
