// What the controller offers the REST API (and later the console and remote agents): the
// catalog for reads and plain record changes, and the actions that go through the controller
// because they start or steer work — jobs, schedules, inventory, catalog rebuilds. The API
// holds no decisions of its own: every route is a catalog read/write or one call here.

import type { AlertNotifier } from '../alerts/index.ts';
import type { Catalog, CatalogJob, JobEventLevel, JobKind, JobState, SecretsBox } from '../catalog/index.ts';
import type { StoragePool, VmInfo } from '../core/index.ts';
import type { JobStore } from './job-store.ts';
import type { ControllerFiles } from './file-service.ts';

/** Work the API may ask for. Each becomes one job in the catalog, run by an agent. */
export type JobRequest =
  /** A policy's VMs (all, or the named ones), or VMs by name/glob/tag: without a policy, `repositories` names where to. */
  | { readonly kind: 'backup'; readonly policy?: string; readonly vms?: readonly string[]; readonly repositories?: readonly string[] }
  /** The named backups, else `scope` new (not verified before) or all (the default). */
  | { readonly kind: 'verify'; readonly repository: string; readonly backups?: readonly string[]; readonly scope?: 'new' | 'all' }
  /** Retention of one policy's VMs in each of its repositories (the policy's rules unless given). */
  | { readonly kind: 'prune'; readonly policy: string }
  | { readonly kind: 'gc'; readonly repository: string }
  /** A backup's disks into a directory on the agent's host, or as a new VM there. */
  | { readonly kind: 'restore'; readonly repository: string; readonly backup: string; readonly toDir?: string; readonly asVm?: string; readonly disk?: string; readonly start?: boolean; readonly noNetwork?: boolean; readonly format?: 'raw' | 'qcow2'; readonly inPlace?: true; readonly confirmVmName?: string; readonly download?: true; readonly host?: string; readonly pool?: string }
  /** A backup's file index (as `vmbak index`), into its repository and the catalog's search cache. */
  | { readonly kind: 'index'; readonly repository: string; readonly backup: string; readonly full?: boolean };

export type JobAction = 'pause' | 'resume' | 'abort';

/** What an agent sends while it runs a job, every second or so. */
export interface AgentReport {
  readonly log?: readonly { readonly level: JobEventLevel; readonly message: string; readonly vmKey?: string | null }[];
  readonly progress?: {
    readonly bytesRead: number; readonly bytesStored: number; readonly bytesToRead: number | null;
    /** Each disk started so far; times as elapsed milliseconds, so the agent's clock need not match the controller's. */
    readonly disks?: readonly AgentDiskProgress[];
  };
}

/** One disk's progress as an agent reports it. */
export interface AgentDiskProgress {
  readonly vm: string;
  readonly disk: string;
  readonly bytesToRead: number;
  readonly bytesRead: number;
  /** Since the disk started, to its end once done. */
  readonly elapsedMs: number;
  readonly done: boolean;
}

/** What the agent should do now with the job it reported on. */
export interface AgentControl {
  readonly abort: boolean;
  readonly paused: boolean;
}

/** How a job's work ended, as its executor (local or on an agent) tells it. */
export interface JobOutcome {
  readonly state: 'succeeded' | 'warning' | 'failed';
  readonly error?: string | null;
}

/** What a registering agent gets: where its work comes from, and the repositories there are. */
export interface AgentRegistration {
  readonly redisUrl: string;
  readonly queue: string;
  readonly careQueue: string;
  readonly repositories: readonly string[];
}

/** A change of a job, for live views (Server-Sent Events). */
export interface JobUpdate {
  readonly jobId: string;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  /** Bytes the job expects to read, when known (for a progress bar and ETA). */
  readonly bytesTotal: number | null;
  /** Bytes per second over the last few seconds. */
  readonly rateBytesPerSec: number;
  /** A log line, when this update carries one. */
  readonly message: string | null;
  readonly atMs: number;
  /** Each disk the job has started on, with its own bar (empty when the update carries no progress). */
  readonly disks: readonly DiskUpdate[];
}

/** One disk's progress in a job update. */
export interface DiskUpdate {
  readonly vm: string;
  readonly disk: string;
  readonly bytesRead: number;
  /** Bytes this disk's read plan holds (changed or allocated data). */
  readonly bytesTotal: number;
  /** Over the disk's own time so far (to its end, once done). */
  readonly rateBytesPerSec: number;
  readonly done: boolean;
}

/** What the controller is and where it keeps its state, for the console's settings page. */
export interface ControllerInfo {
  readonly dataDir: string;
  /** The catalog's file path, or its PostgreSQL URL with the password redacted. */
  readonly catalogLocation: string;
  readonly catalogKind: 'sqlite' | 'postgres';
  /** Jobs run in this process (a local agent), or are handed to agents on the hosts (Redis). */
  readonly localAgent: boolean;
  readonly remoteAgents: boolean;
  readonly streams: number;
  readonly startedMs: number;
}

/** One care task of one repository and when it runs next (null: turned off). */
export interface CareRun {
  readonly repository: string;
  readonly task: 'verifyNew' | 'verifyAll' | 'gc';
  readonly schedule: string | false;
  readonly timezone: string | null;
  readonly nextMs: number | null;
}

export interface ControllerApi {
  readonly catalog: Catalog;
  readonly secrets: SecretsBox;
  readonly notifier: AlertNotifier;
  /** File search over the cached file indexes, browsing sessions and downloads. */
  readonly files: ControllerFiles;
  /** Where restore jobs put disk images for download (`download: true`); null for a controller that runs no jobs. */
  readonly downloadsDir: string | null;
  /** True once the start-up sweep of what a killed predecessor left is done (`/api/v1/health`). */
  isReady(): boolean;
  /** Queues a job; `actor` (token or user name) goes into the audit log. */
  submitJob(request: JobRequest, actor: string): Promise<CatalogJob>;
  /** Pause, resume or abort a queued or running job. JOB_NOT_FOUND / JOB_NOT_RUNNING otherwise. */
  controlJob(jobId: string, action: JobAction, actor: string): Promise<CatalogJob>;
  /** A new job for what a finished job did not get done (the failed VMs of a backup). */
  retryJob(jobId: string, actor: string): Promise<CatalogJob>;
  /** Live job updates until the returned function is called. */
  subscribe(listener: (update: JobUpdate) => void): () => void;
  /** Reads the hypervisors' inventories into the catalog now. */
  syncInventory(): Promise<void>;
  /**
   * Deletes a backup from its repository (its manifest and indexes go; gc frees its data) and
   * from the catalog — or, with `catalogOnly`, forgets it in the catalog alone (a rebuild
   * lists it again while the repository has it).
   */
  deleteBackup(repository: string, backupId: string, opts: { readonly catalogOnly: boolean }): Promise<void>;
  /** Rebuilds the catalog's list of backups from the repositories' manifests (one, or all). */
  rebuildBackups(repository?: string): Promise<{ added: number; removed: number }>;
  /** Re-reads policies and repositories after a change through the API, so schedules (backups, verify, gc) follow at once. */
  reloadPolicies(): Promise<void>;
  /** Next fire times of a policy (for previews), computed by the scheduler's own cron library. */
  nextRuns(policy: string, count: number): Promise<number[]>;
  /** Where this controller keeps its state and how it runs jobs. */
  info(): ControllerInfo;
  /** Every repository's verify and gc schedules with their next fire time, from the scheduler's cron library. */
  careSchedule(): Promise<CareRun[]>;

  // For agents on the hosts (the API's agent routes).
  /** What remote jobs read and record (the catalog). */
  readonly store: JobStore;
  /** An agent starting on `host`: where its jobs come from. JOB_NOT_RUNNING when this controller takes no agents. */
  /** `streams`: how many jobs the agent runs at once (the controller keeps no more in flight). */
  agentRegister(host: string, uri: string | null, streams?: number | null): Promise<AgentRegistration>;
  /** A host's VMs as its agent lists them; also its heartbeat. */
  agentInventory(host: string, uri: string | null, vms: readonly VmInfo[], pools?: readonly StoragePool[]): Promise<void>;
  /** Logs and progress of a job an agent runs; the answer says whether to pause or abort it. */
  agentReport(jobId: string, report: AgentReport): Promise<AgentControl>;
  /** The agent's final word on a job. */
  agentFinish(jobId: string, outcome: JobOutcome): Promise<void>;
}
