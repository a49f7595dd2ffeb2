// The controller: the job runner, the scheduler, inventory sync, retention and care, RPO
// watching and alerts — one place that decides what runs when. `vmbak serve` runs it with a
// local agent; the REST API reaches it through ControllerApi.
export type { AgentDiskProgress, CareRun, ControllerApi, ControllerInfo, DiskUpdate, JobRequest, JobAction, JobUpdate, AgentRegistration, AgentControl, AgentReport } from './controller-api.ts';
export { Controller, type ControllerOptions, type ControllerLog } from './controller.ts';
export { JobRunner, type JobExecutor, type JobContext, type JobOutcome, type SubmitOptions } from './job-runner.ts';
export { Scheduler, windowEndMs, windowStartAfterMs, type FiringRequest } from './scheduler.ts';
export { catalogJobStore, type JobStore, type StoredRepository } from './job-store.ts';
export { CARE_QUEUE, hostQueueName, type QueuedJob } from './remote-jobs.ts';
export { backupExecutor, type BackupJobDeps } from './backup-job.ts';
export { gcExecutor, pruneExecutor, verifyExecutor, type CareJobDeps } from './care-jobs.ts';
export { restoreExecutor, type RestoreJobParams } from './restore-job.ts';
export { indexExecutor, type IndexJobParams } from './index-job.ts';
export { checkInstantVms } from './instant-watch.ts';
export { ControllerFiles, type FileListing, type FileDownload, type ArchiveFormat } from './file-service.ts';
export { matchPolicies, type PolicyMatch, type PolicyState } from './policy-match.ts';
export { repositoryHandles, withRepository, type NamedRepoHandle } from './repositories.ts';
export { previewRepositoryPrune, testRepositoryConnection, type PrunePreview, type ConnectionTest } from './repository-probe.ts';
export { DOWNLOAD_KEEP_MS, nextDownloadDir } from './downloads.ts';
