// The catalog's tables as Kysely sees them: one interface per table, column names as in the
// database (snake_case). Times are milliseconds since the epoch (`_ms`, BIGINT), sizes are
// bytes (`_bytes`, BIGINT), flags are 0/1 integers and structured values are JSON text —
// the subset of types SQLite and PostgreSQL both store the same way. Each concern's module
// (jobs.ts, backups.ts, …) turns rows into camelCase records; nothing else reads rows.

import type { Generated } from 'kysely';

export type Flag = 0 | 1;

export interface CatalogSchema {
  repositories: RepositoryTable;
  hosts: HostTable;
  vms: VmTable;
  policies: PolicyTable;
  schedule_claims: ScheduleClaimTable;
  care_claims: CareClaimTable;
  writer_slots: WriterSlotTable;
  job_controls: JobControlTable;
  vm_placements: VmPlacementTable;
  jobs: JobTable;
  job_vms: JobVmTable;
  job_events: JobEventTable;
  backups: BackupTable;
  vm_backup_summary: VmBackupSummaryTable;
  events: EventTable;
  repository_usage: RepositoryUsageTable;
  alert_channels: AlertChannelTable;
  alert_rules: AlertRuleTable;
  alert_deliveries: AlertDeliveryTable;
  api_tokens: ApiTokenTable;
  users: UserTable;
  audit_log: AuditTable;
  file_indexes: FileIndexTable;
  file_entries: FileEntryTable;
}

export interface RepositoryTable {
  name: string;
  url: string;
  /** SecretsBox ciphertext of the repository's credentials (passphrase, target secrets). */
  credentials_sealed: string | null;
  managed_by_config: Flag;
  created_ms: number;
  updated_ms: number;
  /** The repository's care spec as JSON (care-spec.ts); null: the defaults. */
  care_json: string | null;
}

export interface HostTable {
  name: string;
  uri: string | null;
  state: string;
  first_seen_ms: number;
  last_seen_ms: number;
  streams: number | null;
  pools_json: string | null;
}

export interface VmTable {
  uuid: string;
  name: string;
  host: string | null;
  state: string;
  disks_json: string;
  tags_json: string;
  first_seen_ms: number;
  seen_ms: number;
  /** When a sync of its host no longer listed it; null while it is there. */
  gone_ms: number | null;
  /** The one policy whose selectors match it (set by whoever evaluates them), or null. */
  policy: string | null;
}

export interface PolicyTable {
  name: string;
  spec_json: string;
  /** The spec's RPO in ms (null: none), a column so the dashboard can compare in SQL. */
  rpo_ms: number | null;
  managed_by_config: Flag;
  enabled: Flag;
  created_ms: number;
  updated_ms: number;
}

export interface ScheduleClaimTable {
  policy: string;
  fire_ms: number;
  claimed_ms: number;
  claimed_by: string;
  job_id: string | null;
}

export interface CareClaimTable {
  repository: string;
  task: string;
  fire_ms: number;
  claimed_ms: number;
  claimed_by: string;
  job_id: string | null;
}

export interface JobTable {
  id: string;
  kind: string;
  policy: string | null;
  state: string;
  trigger: string;
  host: string | null;
  params_json: string;
  created_ms: number;
  started_ms: number | null;
  finished_ms: number | null;
  bytes_read: number;
  bytes_written: number;
  error: string | null;
}

export interface JobVmTable {
  job_id: string;
  vm_key: string;
  vm_name: string;
  state: string;
  repository: string | null;
  backup_id: string | null;
  started_ms: number | null;
  finished_ms: number | null;
  bytes_read: number;
  bytes_written: number;
  error: string | null;
}

export interface JobEventTable {
  id: Generated<number>;
  job_id: string;
  time_ms: number;
  level: string;
  vm_key: string | null;
  message: string;
}

export interface BackupTable {
  repository: string;
  backup_id: string;
  /** The manifest's vm.key: the UUID when known, else the name. */
  vm_key: string;
  /** 1 when vm_key is the VM's UUID (the manifest's vm.uuid), 0 when it is a name (image backups). */
  vm_key_is_uuid: Flag;
  vm_name: string;
  host: string;
  time_ms: number;
  logical_bytes: number;
  new_bytes: number;
  stored_bytes: number;
  consistency: string;
  incremental: Flag;
  /** Why the disks were read in full (the manifest's fallback reason); null when incremental or not known. */
  full_reason: string | null;
  verify_state: string;
  verified_ms: number | null;
}

/** Derived from backups (backups.ts keeps it in step): each VM key's newest backup and newest good one. */
export interface VmBackupSummaryTable {
  vm_key: string;
  vm_name: string;
  last_backup_ms: number;
  last_good_backup_ms: number | null;
}

export interface EventTable {
  id: Generated<number>;
  time_ms: number;
  kind: string;
  severity: string;
  /** What the event is about, stable across repeats (e.g. "rpo.missed:vm:<uuid>"): alerts de-duplicate on it. */
  event_key: string;
  message: string;
  data_json: string;
}

export interface RepositoryUsageTable {
  repository: string;
  time_ms: number;
  stored_bytes: number;
  logical_bytes: number;
  chunk_count: number;
  capacity_bytes: number | null;
  dedup_ratio: number;
  compression_ratio: number;
}

export interface AlertChannelTable {
  name: string;
  type: string;
  spec_json: string;
  secret_sealed: string | null;
  managed_by_config: Flag;
  created_ms: number;
  updated_ms: number;
}

export interface AlertRuleTable {
  name: string;
  events_json: string;
  channels_json: string;
  managed_by_config: Flag;
  created_ms: number;
  updated_ms: number;
}

export interface AlertDeliveryTable {
  id: Generated<number>;
  event_kind: string;
  event_key: string;
  channel: string;
  state: string;
  attempts: number;
  reason: string | null;
  created_ms: number;
  finished_ms: number | null;
}

export interface ApiTokenTable {
  id: string;
  name: string;
  role: string;
  secret_hash: string;
  created_ms: number;
  created_by: string | null;
  last_used_ms: number | null;
  expires_ms: number | null;
  revoked_ms: number | null;
}

export interface UserTable {
  name: string;
  role: string;
  password_hash: string;
  disabled: Flag;
  created_ms: number;
  updated_ms: number;
}

export interface AuditTable {
  id: Generated<number>;
  time_ms: number;
  actor: string;
  action: string;
  target: string;
  detail_json: string;
}

/** A backup whose file index (an object in its repository) the catalog holds a copy of. */
export interface FileIndexTable {
  repository: string;
  backup_id: string;
  vm_key: string;
  vm_name: string;
  time_ms: number;
  entry_count: number;
  cached_ms: number;
}

export interface FileEntryTable {
  repository: string;
  backup_id: string;
  fs: string;
  path: string;
  /** The file name, lower case: what a search looks up. */
  name: string;
  type: string;
  size_bytes: number;
  mtime_ms: number;
  mode: number;
  uid: number;
  gid: number;
  sha256: string | null;
}

export interface WriterSlotTable {
  repository: string;
  slot: number;
  job_id: string;
  holder: string;
  taken_ms: number;
}

export interface JobControlTable {
  job_id: string;
  action: string;
  requested_ms: number;
  requested_by: string;
}

export interface VmPlacementTable {
  uuid: string;
  host: string;
  state: string;
  seen_ms: number;
}
