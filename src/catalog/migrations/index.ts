// Every catalog migration in order, as a static list (no directory scan: the list is part of
// the code and a bundler keeps it). Names sort in the order they apply; the version table
// (catalog_migration) records which ones ran.

import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.ts';
import * as repositoryCare from './0002-repository-care.ts';
import * as fileIndex from './0003-file-index.ts';
import * as fleet from './0004-fleet.ts';
import * as backupFullReason from './0005-backup-full-reason.ts';

const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-repository-care': repositoryCare,
  '0003-file-index': fileIndex,
  '0004-fleet': fleet,
  '0005-backup-full-reason': backupFullReason,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};

export const MIGRATION_TABLE = 'catalog_migration';
export const MIGRATION_LOCK_TABLE = 'catalog_migration_lock';
