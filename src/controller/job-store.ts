// What a job reads from and records into the controller, as one interface: the policy it
// runs, repository locations and credentials, which backups failed verify, and the results
// (per-VM outcomes, backups made and pruned, verify states, usage samples, alerts). The
// controller's local agent implements it on the catalog; a remote agent implements it over
// the controller's REST API — so the executors are the same code wherever they run, and no
// agent ever holds the catalog.

import type { AlertEvent } from '../alerts/index.ts';
import {
  backupIdsInVerifyState, backupTotals, cacheFileIndex, forgetBackups, getPolicy, getRepository, readRepositoryCredentials, recordBackups, recordJobVm,
  recordUsage, setVerifyState,
  type BackupInput, type CareSpec, type Catalog, type JobVmResult, type PolicySpec, type RepositoryCredentials, type SecretsBox,
  type CachedIndexRef, type UsageSample, type VerifyState,
} from '../catalog/index.ts';
import type { FileIndex } from '../repository/index.ts';
import { VmbakError } from '../core/index.ts';

export interface StoredRepository {
  readonly name: string;
  readonly url: string;
  readonly care: CareSpec;
  readonly credentials: RepositoryCredentials | null;
}

export interface JobStore {
  policySpec(name: string): Promise<PolicySpec | null>;
  /** CATALOG_NOT_FOUND when there is no such repository. */
  repository(name: string): Promise<StoredRepository>;
  backupIdsInVerifyState(repositories: readonly string[], state: VerifyState): Promise<string[]>;
  setVerifyState(repository: string, backupId: string, state: VerifyState): Promise<void>;
  recordVmResult(jobId: string, result: JobVmResult): Promise<void>;
  recordBackups(backups: readonly BackupInput[]): Promise<void>;
  forgetBackups(repository: string, backupIds: readonly string[]): Promise<void>;
  backupTotals(repository: string): Promise<{ logicalBytes: number; newBytes: number }>;
  recordUsage(repository: string, sample: Omit<UsageSample, 'timeMs'>): Promise<void>;
  /** A new backup's file index (written into its repository) for the catalog's search cache. */
  cacheFileIndex(ref: CachedIndexRef, index: FileIndex): Promise<void>;
  /** Raises an alert; returns at once. */
  alert(event: AlertEvent): void;
  /** The store's clock, in ms. */
  nowMs(): number;
}

/** The store of the controller's own agent: the catalog itself. */
export function catalogJobStore(catalog: Catalog, secrets: SecretsBox, alert: (event: AlertEvent) => void): JobStore {
  return {
    policySpec: async (name) => (await getPolicy(catalog, name))?.spec ?? null,
    async repository(name) {
      const record = await getRepository(catalog, name);
      if (!record) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name });
      return { name, url: record.url, care: record.care, credentials: await readRepositoryCredentials(catalog, secrets, name) };
    },
    backupIdsInVerifyState: (repositories, state) => backupIdsInVerifyState(catalog, repositories, state),
    setVerifyState: async (repository, backupId, state) => { await setVerifyState(catalog, repository, backupId, state); },
    recordVmResult: (jobId, result) => recordJobVm(catalog, jobId, result),
    recordBackups: (backups) => recordBackups(catalog, backups),
    forgetBackups: (repository, backupIds) => forgetBackups(catalog, repository, backupIds),
    backupTotals: (repository) => backupTotals(catalog, repository),
    recordUsage: (repository, sample) => recordUsage(catalog, repository, sample),
    cacheFileIndex: (ref, index) => cacheFileIndex(catalog, ref, index),
    alert,
    nowMs: () => catalog.clock.nowMs(),
  };
}
