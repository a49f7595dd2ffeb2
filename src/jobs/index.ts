// The job model of a running backup process: its record (owner, state, progress) under the
// state directory, and the control that pauses, resumes and aborts it on request.
export { startJobControl, parseDurationMs, type JobControl, type JobControlOptions } from './job-control.ts';
export { jobOwnerStatus, jobsDir, readJobRecords, removeJobRecord, writeJobRecord, type JobRecord } from './job-records.ts';
