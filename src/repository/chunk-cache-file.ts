// Where the local chunk cache lives and how its SQLite file is opened. The cache is derived
// data (every row comes from a pack index object), so a file that cannot be trusted is
// deleted and rebuilt, and one that cannot be opened at all makes vmbak fall back to the
// in-memory table with a one-line warning: a cache problem never fails a backup.

import { DatabaseSync } from 'node:sqlite';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const SCHEMA_VERSION = 2;
/** Pages SQLite keeps in this process: the cache's share of memory, whatever its size on disk. */
const PAGE_CACHE_KIB = 8192;
const BUSY_TIMEOUT_MS = 15_000;
/** A cache not opened for this long (its repository gone or unused) is deleted. */
const UNUSED_CACHE_MS = 90 * 24 * 3600_000;
const CACHE_FILE = /^chunks-[0-9a-f]{32}\.sqlite$/;

/** `$VMBAK_CACHE_DIR`, else `$XDG_CACHE_HOME/vmbak`, else `~/.cache/vmbak`. */
export function chunkCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VMBAK_CACHE_DIR) return env.VMBAK_CACHE_DIR;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'vmbak');
  return join(homedir(), '.cache', 'vmbak');
}

export function chunkCachePath(repositoryId: string, dir = chunkCacheDir()): string {
  return join(dir, `chunks-${repositoryId}.sqlite`);
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  -- num is never reused (AUTOINCREMENT): a stale pack number can never name another pack.
  -- complete = 1 once every entry of the pack's index object is in chunk, in the same
  -- transaction; 0 for packs a running backup wrote (rows added as it went). ids: the pack's
  -- chunk ids, 32 bytes each, to drop its rows without an index by pack (which random ids
  -- would make as costly to keep as the table itself).
  CREATE TABLE IF NOT EXISTS pack (num INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, complete INTEGER NOT NULL, ids BLOB NOT NULL);
  -- Keyed by (chunk id, pack): a chunk stored in two packs keeps both rows, so dropping one
  -- pack never loses the other location.
  CREATE TABLE IF NOT EXISTS chunk (id BLOB NOT NULL, pack INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL, PRIMARY KEY (id, pack)) WITHOUT ROWID;
`;

/** SQLite's primary result code of an error thrown by node:sqlite, or null for other errors. */
export function sqliteCode(err: unknown): number | null {
  const e = err as { code?: unknown; errcode?: unknown };
  return e?.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number' ? e.errcode & 0xff : null;
}

const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;
/** Errors that say the file itself is bad (rebuild it), not that it is busy or unwritable. */
export const isCorruption = (err: unknown): boolean => [SQLITE_CORRUPT, SQLITE_NOTADB].includes(sqliteCode(err) ?? -1);

/** A file next to the database that makes the next open rebuild it. */
const brokenMarker = (path: string): string => `${path}.broken`;

export function markCacheBroken(path: string): void {
  try {
    closeSync(openSync(brokenMarker(path), 'w', 0o600));
  } catch {
    // Unwritable: the next open meets the same corruption and rebuilds then.
  }
}

function removeCacheFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  rmSync(brokenMarker(path), { force: true });
}

function openOnce(path: string, repositoryId: string): DatabaseSync {
  // Chunk ids and pack ids are the user's business: the file is private like the directory.
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  const db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // WAL: readers never wait for a writer, and a killed writer's transaction rolls back.
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(SCHEMA);
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('repositoryId', repositoryId);
      db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    if (meta.get('repositoryId') !== repositoryId || meta.get('schema') !== String(SCHEMA_VERSION)) {
      throw Object.assign(new Error('the cache belongs to another repository or schema'), { code: 'ERR_SQLITE_ERROR', errcode: SQLITE_NOTADB });
    }
    // Touches the pack table's pages: a damaged file mostly shows itself here, not mid-backup.
    db.prepare('SELECT count(*) AS n, max(num) AS m FROM pack').get();
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Mtime marks the last open (see openCacheFile), so caches of repositories long unused go. */
function removeUnusedCaches(dir: string, nowMs: number): void {
  try {
    for (const name of readdirSync(dir)) {
      if (!CACHE_FILE.test(name)) continue;
      const path = join(dir, name);
      if (nowMs - statSync(path).mtimeMs > UNUSED_CACHE_MS) removeCacheFiles(path);
    }
  } catch {
    // Tidying is best effort: an old cache left behind costs only disk space.
  }
}

export type CacheOpenResult = { db: DatabaseSync; path: string } | { db: null; path: string; reason: string };

/**
 * Opens (creating if need be) the cache of one repository. A damaged file, or one marked
 * broken after an error mid-run, is deleted and built anew; any other failure is returned as
 * a reason so the caller can warn and go on without the cache.
 */
export function openCacheFile(repositoryId: string, dir = chunkCacheDir()): CacheOpenResult {
  const path = chunkCachePath(repositoryId, dir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (existsSync(brokenMarker(path))) removeCacheFiles(path);
    let db: DatabaseSync;
    try {
      db = openOnce(path, repositoryId);
    } catch (err) {
      if (!isCorruption(err)) throw err;
      removeCacheFiles(path);
      db = openOnce(path, repositoryId);
    }
    const now = new Date();
    utimesSync(path, now, now);
    removeUnusedCaches(dir, now.getTime());
    return { db, path };
  } catch (err) {
    return { db: null, path, reason: (err as Error)?.message ?? String(err) };
  }
}
