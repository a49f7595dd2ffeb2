// Repositories as the controller knows them: by name in the catalog, with their passphrase in
// the secrets box. A handle opens the repository on first use (a dead target is then a
// failover case of the run, as on the command line) and is shared by the jobs of one run.

import { VmbakError } from '../core/index.ts';
import { getRepository, readRepositoryCredentials, type Catalog, type SecretsBox } from '../catalog/index.ts';
import { lazyRepoHandle, type RepoHandle } from '../services/index.ts';
import { Repository } from '../repository/index.ts';
import { openTarget } from '../targets/index.ts';

export interface NamedRepoHandle extends RepoHandle {
  readonly name: string;
}

/** Handles for repositories named in the catalog; CATALOG_NOT_FOUND names one that is not there. */
export async function repositoryHandles(catalog: Catalog, box: SecretsBox, names: readonly string[]): Promise<NamedRepoHandle[]> {
  const handles: NamedRepoHandle[] = [];
  for (const name of names) {
    const record = await getRepository(catalog, name);
    if (!record) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name });
    const handle = lazyRepoHandle(record.url, async () => {
      const target = await openTarget(record.url);
      try {
        return await Repository.open(target, async () => {
          const creds = await readRepositoryCredentials(catalog, box, name);
          if (!creds?.passphrase) throw new VmbakError('REPO_ENCRYPTED_NEEDS_KEY', { repo: target.displayUrl });
          return { passphrase: creds.passphrase };
        });
      } catch (err) {
        await target.close().catch(() => {});
        throw err;
      }
    });
    handles.push({ ...handle, name });
  }
  return handles;
}

/** Opens one repository for a care job (verify, prune, gc) and closes it after. */
export async function withRepository<T>(catalog: Catalog, box: SecretsBox, name: string, fn: (repo: Repository) => Promise<T>): Promise<T> {
  const [handle] = await repositoryHandles(catalog, box, [name]);
  const repo = await handle!.open();
  try {
    return await fn(repo);
  } finally {
    await repo.target.close().catch(() => {});
  }
}
