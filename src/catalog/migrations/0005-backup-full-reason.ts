// Why a backup read its disks in full (no changed-block tracking, a checkpoint that did not
// match, a first backup…), copied from its manifest so the console can say it beside "full".
// NULL for incremental backups and for rows recorded before this column: a rebuild fills it.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('backups').addColumn('full_reason', 'text').execute();
}
