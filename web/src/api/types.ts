// Names for the API's shapes, picked out of the generated paths so they follow the OpenAPI
// document (schema.gen.ts) instead of being written a second time.

import type { paths } from './schema.gen.ts';

type Json<T> = T extends { content: { 'application/json': infer J } } ? J : never;
type Ok<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { responses: infer R }
  ? Json<R[200 & keyof R]> | Json<R[201 & keyof R]> | Json<R[202 & keyof R]> : never;
type BodyOf<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody?: infer B } ? Json<NonNullable<B>> : never;

export type Dashboard = Ok<'/api/v1/dashboard', 'get'>;
export type Vm = Ok<'/api/v1/vms/{vm}', 'get'>;
export type Backup = Ok<'/api/v1/backups/{repository}/{backupId}', 'get'>;
export type JobListItem = Ok<'/api/v1/jobs', 'get'>['items'][number];
export type JobDetail = Ok<'/api/v1/jobs/{id}', 'get'>;
export type Job = JobDetail['job'];
export type JobVm = JobDetail['vms'][number];
export type JobLogLine = JobDetail['events'][number];
export type JobState = Job['state'];
export type Policy = Ok<'/api/v1/policies/{name}', 'get'>;
export type PolicyCreate = BodyOf<'/api/v1/policies', 'post'>;
export type PolicyUpdate = BodyOf<'/api/v1/policies/{name}', 'put'>;
export type Repository = Ok<'/api/v1/repositories/{name}', 'get'>;
export type UsageSample = Ok<'/api/v1/usage', 'get'>['items'][number];
export type EventRecord = Ok<'/api/v1/events', 'get'>['items'][number];
export type LoginAnswer = Ok<'/api/v1/auth/login', 'post'>;
export type Role = LoginAnswer['user']['role'];
export type FileListing = Ok<'/api/v1/backups/{repository}/{backupId}/files', 'get'>;
export type FileEntry = NonNullable<FileListing['entries']>[number];
export type FoundFile = Ok<'/api/v1/files/find', 'get'>['files'][number];
export type ServerInfo = Ok<'/api/v1/server', 'get'>;
export type CareRun = Ok<'/api/v1/care-schedule', 'get'>['items'][number];
export type AlertChannelCreate = BodyOf<'/api/v1/alerts/channels', 'post'>;
export type AlertRuleCreate = BodyOf<'/api/v1/alerts/rules', 'post'>;
export type RepositoryCreate = BodyOf<'/api/v1/repositories', 'post'>;
export type RestoreRequest = BodyOf<'/api/v1/backups/{repository}/{backupId}/restore', 'post'>;

/** One `update` event of the job streams (docs/api.md, "Live jobs"). */
export interface JobUpdate {
  readonly jobId: string;
  readonly kind: Job['kind'];
  readonly state: JobState;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly bytesTotal: number | null;
  readonly rateBytesPerSec: number;
  readonly message: string | null;
  readonly atMs: number;
  /** Each disk a backup has started on (empty for other job kinds). */
  readonly disks?: readonly DiskUpdate[];
}

/** One disk's bar in a job update (docs/api.md, "Live jobs"). */
export interface DiskUpdate {
  readonly vm: string;
  readonly disk: string;
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly rateBytesPerSec: number;
  readonly done: boolean;
}

export const FINISHED_STATES: readonly JobState[] = ['succeeded', 'warning', 'failed', 'aborted', 'interrupted'];
