// Repository care on schedules: each repository's care spec (when to verify and gc, when it
// is nearly full) and the claims of its firings — the same once-only claim policies have,
// keyed by (repository, task, fire time).

import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  // NULL: the defaults (care-spec.ts), so repositories stored before this keep being looked after.
  await s.alterTable('repositories').addColumn('care_json', 'text').execute();
  await s.createTable('care_claims')
    .addColumn('repository', 'text', (c) => c.notNull().references('repositories.name').onDelete('cascade'))
    .addColumn('task', 'text', (c) => c.notNull())
    .addColumn('fire_ms', 'bigint', (c) => c.notNull())
    .addColumn('claimed_ms', 'bigint', (c) => c.notNull())
    .addColumn('claimed_by', 'text', (c) => c.notNull())
    .addColumn('job_id', 'text')
    .addPrimaryKeyConstraint('care_claims_pk', ['repository', 'task', 'fire_ms'])
    .execute();
}
