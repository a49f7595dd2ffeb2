// The controller: the job runner, the scheduler, inventory sync, retention and care, RPO
// watching and alerts — one place that decides what runs when. `vmbak serve` runs it with a
// local agent; the REST API reaches it through ControllerApi.
export type { ControllerApi, JobRequest, JobAction, JobUpdate } from './controller-api.ts';
export { Controller, type ControllerOptions, type ControllerLog } from './controller.ts';
export { JobRunner, type JobExecutor, type JobContext, type JobOutcome, type SubmitOptions } from './job-runner.ts';
export { Scheduler, windowEndMs, windowStartAfterMs, type FiringRequest } from './scheduler.ts';
export { ControllerFiles, type FileListing, type FileDownload, type ArchiveFormat } from './file-service.ts';
export { matchPolicies, type PolicyMatch, type PolicyState } from './policy-match.ts';
