// The first catalog schema. Portable DDL only (Kysely's schema builder, types both SQLite and
// PostgreSQL store alike; see ../schema.ts), so the same migration builds either database.
// A migration, once released, never changes: a later schema is a new file.
//
// Indexes exist for the controller's hot queries at 10 000 VMs and millions of backups:
// backups_vm_time serves "one VM's backups" and the newest-backup lookups that keep
// vm_backup_summary (the dashboard's source) current; backups_time the all-VM list and
// "backups since" (verify what is new);
// jobs_created serves the job history page; the rest serve lists filtered by the column
// they name.

import type { Kysely } from 'kysely';
import { addSerialId } from './portable.ts';

export async function up(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  await s.createTable('repositories')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('credentials_sealed', 'text')
    .addColumn('managed_by_config', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_ms', 'bigint', (c) => c.notNull())
    .execute();

  await s.createTable('hosts')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('uri', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('first_seen_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_seen_ms', 'bigint', (c) => c.notNull())
    .execute();

  await s.createTable('vms')
    .addColumn('uuid', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.references('hosts.name').onDelete('set null'))
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('disks_json', 'text', (c) => c.notNull())
    .addColumn('tags_json', 'text', (c) => c.notNull())
    .addColumn('first_seen_ms', 'bigint', (c) => c.notNull())
    .addColumn('seen_ms', 'bigint', (c) => c.notNull())
    .addColumn('gone_ms', 'bigint')
    .addColumn('policy', 'text')
    .execute();
  await s.createIndex('vms_name').on('vms').column('name').execute();
  await s.createIndex('vms_host').on('vms').column('host').execute();
  await s.createIndex('vms_policy').on('vms').column('policy').execute();

  await s.createTable('policies')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('spec_json', 'text', (c) => c.notNull())
    .addColumn('rpo_ms', 'bigint')
    .addColumn('managed_by_config', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_ms', 'bigint', (c) => c.notNull())
    .execute();

  // The primary key is the claim: the one INSERT that succeeds for (policy, fire_ms) owns the firing.
  await s.createTable('schedule_claims')
    .addColumn('policy', 'text', (c) => c.notNull().references('policies.name').onDelete('cascade'))
    .addColumn('fire_ms', 'bigint', (c) => c.notNull())
    .addColumn('claimed_ms', 'bigint', (c) => c.notNull())
    .addColumn('claimed_by', 'text', (c) => c.notNull())
    .addColumn('job_id', 'text')
    .addPrimaryKeyConstraint('schedule_claims_pk', ['policy', 'fire_ms'])
    .execute();

  await createJobTables(db);
  await createBackupTables(db);
  await createAlertTables(db);
  await createAccessTables(db);
}

async function createJobTables(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  // policy is kept as text without a foreign key: a job's history outlives its policy.
  await s.createTable('jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('policy', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('host', 'text')
    .addColumn('params_json', 'text', (c) => c.notNull())
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('started_ms', 'bigint')
    .addColumn('finished_ms', 'bigint')
    .addColumn('bytes_read', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_written', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .execute();
  await s.createIndex('jobs_created').on('jobs').columns(['created_ms', 'id']).execute();
  await s.createIndex('jobs_state').on('jobs').column('state').execute();
  await s.createIndex('jobs_policy_created').on('jobs').columns(['policy', 'created_ms']).execute();

  await s.createTable('job_vms')
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('vm_key', 'text', (c) => c.notNull())
    .addColumn('vm_name', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('repository', 'text')
    .addColumn('backup_id', 'text')
    .addColumn('started_ms', 'bigint')
    .addColumn('finished_ms', 'bigint')
    .addColumn('bytes_read', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('bytes_written', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addPrimaryKeyConstraint('job_vms_pk', ['job_id', 'vm_key'])
    .execute();

  await addSerialId(db, s.createTable('job_events'))
    .addColumn('job_id', 'text', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('level', 'text', (c) => c.notNull())
    .addColumn('vm_key', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('job_events_job').on('job_events').columns(['job_id', 'id']).execute();
}

async function createBackupTables(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  await s.createTable('backups')
    .addColumn('repository', 'text', (c) => c.notNull().references('repositories.name').onDelete('cascade'))
    .addColumn('backup_id', 'text', (c) => c.notNull())
    .addColumn('vm_key', 'text', (c) => c.notNull())
    .addColumn('vm_key_is_uuid', 'integer', (c) => c.notNull())
    .addColumn('vm_name', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('logical_bytes', 'bigint', (c) => c.notNull())
    .addColumn('new_bytes', 'bigint', (c) => c.notNull())
    .addColumn('stored_bytes', 'bigint', (c) => c.notNull())
    .addColumn('consistency', 'text', (c) => c.notNull())
    .addColumn('incremental', 'integer', (c) => c.notNull())
    .addColumn('verify_state', 'text', (c) => c.notNull())
    .addColumn('verified_ms', 'bigint')
    .addPrimaryKeyConstraint('backups_pk', ['repository', 'backup_id'])
    .execute();
  // verify_state rides along so that "newest good backup of a VM" is answered from the index alone.
  await s.createIndex('backups_vm_time').on('backups').columns(['vm_key', 'time_ms', 'verify_state']).execute();
  await s.createIndex('backups_time').on('backups').column('time_ms').execute();

  // Per VM key, derived from backups and kept in step by backups.ts (rebuildable from it): the
  // dashboard reads 10 000 VMs' newest backups from this small table instead of 20 000 seeks
  // into backups, and names of VMs gone from the inventory still resolve to their keys.
  await s.createTable('vm_backup_summary')
    .addColumn('vm_key', 'text', (c) => c.primaryKey())
    .addColumn('vm_name', 'text', (c) => c.notNull())
    .addColumn('last_backup_ms', 'bigint', (c) => c.notNull())
    .addColumn('last_good_backup_ms', 'bigint')
    .execute();
  await s.createIndex('vm_backup_summary_name').on('vm_backup_summary').column('vm_name').execute();

  await addSerialId(db, s.createTable('events'))
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('event_key', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data_json', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('events_time').on('events').column('time_ms').execute();
  await s.createIndex('events_kind_time').on('events').columns(['kind', 'time_ms']).execute();

  await s.createTable('repository_usage')
    .addColumn('repository', 'text', (c) => c.notNull().references('repositories.name').onDelete('cascade'))
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('stored_bytes', 'bigint', (c) => c.notNull())
    .addColumn('logical_bytes', 'bigint', (c) => c.notNull())
    .addColumn('chunk_count', 'bigint', (c) => c.notNull())
    .addColumn('capacity_bytes', 'bigint')
    .addColumn('dedup_ratio', 'double precision', (c) => c.notNull())
    .addColumn('compression_ratio', 'double precision', (c) => c.notNull())
    .addPrimaryKeyConstraint('repository_usage_pk', ['repository', 'time_ms'])
    .execute();
}

async function createAlertTables(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  await s.createTable('alert_channels')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('spec_json', 'text', (c) => c.notNull())
    .addColumn('secret_sealed', 'text')
    .addColumn('managed_by_config', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_ms', 'bigint', (c) => c.notNull())
    .execute();

  await s.createTable('alert_rules')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('events_json', 'text', (c) => c.notNull())
    .addColumn('channels_json', 'text', (c) => c.notNull())
    .addColumn('managed_by_config', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_ms', 'bigint', (c) => c.notNull())
    .execute();

  // channel is text without a foreign key: the record of a delivery outlives its channel.
  await addSerialId(db, s.createTable('alert_deliveries'))
    .addColumn('event_kind', 'text', (c) => c.notNull())
    .addColumn('event_key', 'text', (c) => c.notNull())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('reason', 'text')
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('finished_ms', 'bigint')
    .execute();
  await s.createIndex('alert_deliveries_key').on('alert_deliveries').columns(['event_key', 'created_ms']).execute();
  await s.createIndex('alert_deliveries_created').on('alert_deliveries').column('created_ms').execute();
}

async function createAccessTables(db: Kysely<any>): Promise<void> {
  const s = db.schema;
  await s.createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('last_used_ms', 'bigint')
    .addColumn('expires_ms', 'bigint')
    .addColumn('revoked_ms', 'bigint')
    .execute();

  await s.createTable('users')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_ms', 'bigint', (c) => c.notNull())
    .addColumn('updated_ms', 'bigint', (c) => c.notNull())
    .execute();

  await addSerialId(db, s.createTable('audit_log'))
    .addColumn('time_ms', 'bigint', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('detail_json', 'text', (c) => c.notNull())
    .execute();
  await s.createIndex('audit_log_time').on('audit_log').column('time_ms').execute();
}
