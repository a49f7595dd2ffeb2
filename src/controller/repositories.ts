// Repositories as jobs know them: by name in the job store (the catalog, or the controller's
// API for a remote agent), with their passphrase. A handle opens the repository on first use
// (a dead target is then a failover case of the run, as on the command line) and is shared
// by the jobs of one run. A repository that cannot be reached when opened raises
// repository.unreachable.

import type { AlertEvent } from '../alerts/index.ts';
import { VmbakError, describeError } from '../core/index.ts';
import type { JobStore } from './job-store.ts';
import { lazyRepoHandle, type RepoHandle } from '../services/index.ts';
import { Repository } from '../repository/index.ts';
import { openTarget } from '../targets/index.ts';

export interface NamedRepoHandle extends RepoHandle {
  readonly name: string;
}

/** Raises an alert; returns at once. */
export type RaiseAlert = (event: AlertEvent) => void;

/** Errors of opening a repository that mean it cannot be reached (not a wrong passphrase or config). */
const UNREACHABLE = new Set(['TARGET_UNREACHABLE', 'TARGET_IO', 'TARGET_DENIED', 'REPO_NOT_FOUND', 'BUCKET_MISSING']);

/**
 * Handles for repositories named in the catalog; CATALOG_NOT_FOUND names one that is not
 * there. With `alert`, a handle that fails to open because its target is unreachable raises
 * repository.unreachable (the notifier folds repeats into one).
 */
export async function repositoryHandles(store: JobStore, names: readonly string[], alert?: RaiseAlert): Promise<NamedRepoHandle[]> {
  const handles: NamedRepoHandle[] = [];
  for (const name of names) {
    const record = await store.repository(name);
    const handle = lazyRepoHandle(record.url, async () => {
      const target = await openTarget(record.url, record.credentials?.env);
      try {
        return await Repository.open(target, async () => {
          const creds = record.credentials;
          if (!creds?.passphrase) throw new VmbakError('REPO_ENCRYPTED_NEEDS_KEY', { repo: target.displayUrl });
          return { passphrase: creds.passphrase };
        });
      } catch (err) {
        await target.close().catch(() => {});
        throw err;
      }
    });
    const open = alert ? () => handle.open().catch((err: unknown) => { raiseUnreachable(alert, store, name, err); throw err; }) : handle.open;
    handles.push({ ...handle, open, name });
  }
  return handles;
}

function raiseUnreachable(alert: RaiseAlert, store: JobStore, name: string, err: unknown): void {
  if (!(err instanceof VmbakError) || !UNREACHABLE.has(err.code)) return;
  alert({
    kind: 'repository.unreachable', key: name, severity: 'error', timeMs: store.nowMs(),
    message: `repository ${name} is unreachable: ${describeError(err)}`, data: { repository: name, code: err.code, error: err.message },
  });
}

/** Opens one repository for a care job (verify, prune, gc) and closes it after. */
export async function withRepository<T>(store: JobStore, name: string, fn: (repo: Repository) => Promise<T>, alert?: RaiseAlert): Promise<T> {
  const [handle] = await repositoryHandles(store, [name], alert);
  const repo = await handle!.open();
  try {
    return await fn(repo);
  } finally {
    await repo.target.close().catch(() => {});
  }
}
