// The backup and restore pipelines: bounded, back-pressured, cancellable, with the CPU work
// on a worker-thread pool.
export { WorkerPool, prestartWorkers } from './worker-pool.ts';
export { backupVm, vmLockName, type BackupVmRequest, type VmIdentity } from './backup-vm.ts';
export { restoreBackup, type RestoreRequest, type RestoredDisk } from './restore-backup.ts';
export { restoreAsNewVm, planInPlaceRestore, describeInPlacePlan, executeInPlaceRestore } from './restore-vm.ts';
export type { VmRestoreBase, AsVmOptions, RestoredVm, InPlacePlan } from './restore-vm.ts';
export { newProgress, type DiskProgress, type ProgressCounters } from './progress.ts';
export { verifyBackups, type VerifyProblem } from './verify.ts';
export { runBackups, type VmJob, type RepoHandle, type VmOutcome, type BackupRunOptions } from './backup-run.ts';
export { targetOrder } from './target-choice.ts';
export { PauseGate, type PauseGateOptions } from './pause-gate.ts';
export { planCopy, executeCopy, type CopyPlan, type CopyPlanItem, type CopiedBackup } from './copy-backups.ts';
export { openBackupExports, DEFAULT_EXPORT_CACHE_BYTES, type BackupExportSession, type ExportBackupRequest } from './export-backup.ts';
