// The controller's store: VMs, hosts, policies, schedule claims, jobs, the cached list of
// backups, events, repository usage, alert channels and deliveries, tokens, users and the
// audit log — SQLite (node:sqlite) now, PostgreSQL later, through one Kysely schema and one
// set of migrations. Everything it says about backups can be rebuilt from the repositories.
export { openCatalog, inTransaction, type Catalog, type OpenCatalog, type OpenCatalogOptions } from './open.ts';
export type { CatalogSchema } from './schema.ts';
export { NAME_PATTERN, type Page, type PageRequest, type ChangeKind } from './records.ts';
export { SecretsBox, loadSecretsBox, sealUnlessSame, defaultSecretsKeyPath, dataDirPaths } from './secrets.ts';
export {
  upsertRepository, getRepository, listRepositories, readRepositoryCredentials, removeRepository,
  type RepositoryRecord, type RepositoryCredentials, type RepositoryInput,
} from './repositories.ts';
export { recordHostSeen, recordHostStreams, recordHostPools, markLostHosts, listHosts, type HostRecord, type HostState } from './hosts.ts';
export { chooseHost, listVmPlacements, type VmPlacement } from './vm-placements.ts';
export { takeWriterSlots, releaseWriterSlots, countWriters } from './writer-slots.ts';
export { requestJobControl, takeJobControls, anyJobControls, type RequestedControl } from './job-controls.ts';
export { syncHostVms, listVms, findVms, assignVmPolicies, type VmRecord, type VmSyncResult } from './vms.ts';
export {
  policySpecSchema, policySpecFields, checkPolicySpec, checkCron, durationSchema, timezoneSchema, retentionSchema, rpoMsOf, type PolicySpec, type PolicySpecInput, type Retention,
} from './policy-spec.ts';
export { upsertPolicy, setPolicyEnabled, getPolicy, listPolicies, removePolicy, type PolicyRecord, type PolicyInput } from './policies.ts';
export { claimFiring, setClaimJob, lastClaimedFiring, pruneClaims, defaultClaimant, claimCareFiring, setCareClaimJob, lastClaimedCareFiring } from './claims.ts';
export { careSpecSchema, defaultCareSpec, CARE_TASKS, type CareSpec, type CareSpecInput, type CareTask } from './care-spec.ts';
export {
  createJob, setJobState, setJobProgress, getJob, listJobs, activePolicyJob, countJobsByState, markJobsInterrupted, deleteJobsBefore, newJobId, FINISHED_JOB_STATES,
  type CatalogJob, type NewJob, type JobKind, type JobState, type JobTrigger, type JobFilter,
} from './jobs.ts';
export { recordJobVm, listJobVms, countJobVms, type JobVmResult, type JobVmRecord, type JobVmState } from './job-vms.ts';
export { appendJobEvent, listJobEvents, type JobEvent, type JobEventLevel } from './job-events.ts';
export {
  backupFromManifest, recordBackups, replaceRepositoryBackups, forgetBackups, setVerifyState, getBackup, listBackups, backupIdsInVerifyState, backupTotals,
  type BackupRecord, type BackupInput, type BackupFilter, type VerifyState,
} from './backups.ts';
export { listVmProtection, summarizeProtection, type VmProtection, type ProtectionSummary } from './protection.ts';
export {
  recordEvent, listEvents, ALERT_EVENT_KINDS, type AlertEventKind, type EventInput, type EventRecord, type EventSeverity, type EventFilter,
} from './events.ts';
export { recordUsage, listUsage, type UsageSample } from './usage.ts';
export {
  alertChannelSpecSchema, smtpChannelSpecSchema, webhookChannelSpecSchema, alertRuleSpecSchema, alertEventSelectorSchema,
  type AlertChannelSpec, type AlertChannelSpecInput, type SmtpChannelSpec, type WebhookChannelSpec, type AlertRuleSpec,
} from './alert-specs.ts';
export {
  upsertAlertChannel, listAlertChannels, getAlertChannel, readAlertChannelSecret, removeAlertChannel,
  upsertAlertRule, listAlertRules, removeAlertRule, type AlertChannelRecord, type AlertChannelInput, type AlertRuleRecord,
} from './alert-channels.ts';
export {
  recordDeliveryQueued, finishDelivery, wasAlerted, failStaleDeliveries, listDeliveries,
  type DeliveryRecord, type DeliveryState, type DeliveryFilter,
} from './alert-deliveries.ts';
export { createApiToken, authenticateToken, revokeApiToken, deleteExpiredApiTokens, listApiTokens, type ApiTokenRecord, type NewApiToken } from './tokens.ts';
export {
  createUser, authenticateUser, setUserPassword, setUserDisabled, listUsers, removeUser, ROLES, MIN_PASSWORD_CHARS, type Role, type UserRecord,
} from './users.ts';
export { recordAudit, listAudit, type AuditEntry } from './audit.ts';
export {
  cacheFileIndex, fileIndexOf, listUncachedBackups, dropOrphanFileIndexes, searchCachedEntries, type CachedIndexRef, type CachedEntry, type CachedSearch,
} from './file-indexes.ts';
