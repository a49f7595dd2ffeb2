// What many hosts and controllers need. Writer slots: a repository's concurrent-writer limit held across every controller that
// shares the catalog. Slot k of a repository is one row; a job takes a free slot and holds it
// while it is queued with an agent or running. A slot whose job has finished (or is gone) is
// free again without anyone releasing it, so a controller killed -9 leaks nothing. The hosts
// table learns each agent's streams, so a controller keeps no more of a host's jobs in flight
// than the host runs at once. Job controls carry a pause/resume/abort asked of one controller
// to the controller that holds the job (or, when that one is gone, to whichever the agent
// reports to). VM placements: every host that lists a VM (the same UUID defined on two hosts
// with shared storage, or left defined on the old host after a migration), so a backup goes to
// the host it runs on, and a shut-off VM to any online host that has it.

import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  await s.createTable('writer_slots')
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('slot', 'integer', (c) => c.notNull())
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('taken_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('writer_slots_pk', ['repository', 'slot'])
    .execute();
  await s.createIndex('writer_slots_job').on('writer_slots').column('job_id').execute();
  await s.createTable('job_controls')
    .addColumn('job_id', 'text', (c) => c.notNull().primaryKey())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('requested_ms', 'bigint', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .execute();
  await s.createTable('vm_placements')
    .addColumn('uuid', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('seen_ms', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('vm_placements_pk', ['uuid', 'host'])
    .execute();
  // NULL: an agent that did not say (older agents, the controller's local agent).
  await s.alterTable('hosts').addColumn('streams', 'integer').execute();
  // The host's storage pools as its inventory last listed them (JSON), for choosing where a
  // restored VM's disks go; NULL until it reports them.
  await s.alterTable('hosts').addColumn('pools_json', 'text').execute();
}
