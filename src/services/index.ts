// The operations the CLI, the REST API and the scheduler share. They hold the decisions —
// which VMs a selection means, when a run is a warning, which checkpoints a sweep keeps, how
// worker pools are set up — and take plain typed inputs: no commander objects, no printing,
// no exit codes. Progress goes to ProgressCounters and callbacks, cancellation comes through
// an AbortSignal, results come back as values and failures as VmbakError.
export { backupVms, lazyRepoHandle, type BackupRequest, type BackupSelection, type BackupRunControl, type BackupResult } from './backup.ts';
export { judgeBackupRun, type BackupVerdict, type RunStatus, type VmFailure } from './backup-verdict.ts';
export { findVms, selectVms, matchesVmPattern, type VmSelection, type Selectable } from './vm-selection.ts';
export { connectHypervisor, listVms, imageFilesVm, domainXmlVm, ensureLocalLibvirt, type HypervisorConnection, type LocalLibvirt, type OfflineVm } from './hypervisors.ts';
export { sweepLeftovers, describeLeftover } from './leftovers.ts';
export { withWorkerPool, prestartWorkers, type PoolLimits } from './worker-pools.ts';
export {
  restoreDisks, restoreAsVm, planRestoreInPlace, executeRestoreInPlace,
  type RestoreRun, type DiskRestoreRequest, type NewVmRestoreRequest, type InPlaceRestorePlan, type InPlaceRestoreRequest,
} from './restore.ts';
export { verifyRepository, type VerifyResult } from './verify.ts';
export { listRepositoryBackups, planRepositoryPrune, executeRepositoryPrune, checkRepositoryHealth, type CheckResult } from './care.ts';
export { planBackupCopy, copyBackups, type CopySelection, type CopyRun } from './copy.ts';
export { openBackupExport, type BackupExportRequest } from './export.ts';
export {
  startInstantRecovery, listInstantVms, resumeInstantVm, migrateInstantVm, stopInstantVm, sweepInstantLeftovers, describeInstantLeftover, requireInstantRecord,
  type InstantStartRequest, type InstantStarted, type InstantVmInfo, type InstantServerStarter, type SweptInstantVm,
} from './instant.ts';
export { serveInstantVm, type InstantServeRequest } from './instant-serve.ts';
export { instantPaths, readInstantRecord, readInstantStatus, liveServerPid, type InstantRecord, type InstantStatus } from './instant-records.ts';
export { listJobs, controlJob, JOB_ACTIONS, type JobAction, type JobListing, type JobsLocation } from './jobs.ts';
// Repository reads a caller needs around the services (resolve what a user typed), and gc,
// which needs no decision of its own.
export { resolveBackupRef, runGc, type GcReport, type Manifest, type PrunePlan, type RetentionPolicy } from '../repository/index.ts';
export { newProgress, DEFAULT_EXPORT_CACHE_BYTES, type BackupExportSession, type ProgressCounters, type VmOutcome, type RepoHandle, type CopyPlan, type CopiedBackup } from '../engine/index.ts';
