// Repositories: CRUD for the ones made through the API (config-file ones are read-only).
// Credentials — the passphrase and target secrets — are write-only: a request may set,
// replace (`credentials`) or remove them (`credentials: null`); no answer ever carries them,
// only `hasCredentials`. A repository a policy still names cannot be deleted.

import { z } from 'zod';
import { careSpecSchema, getRepository, listPolicies, listRepositories, removeRepository, upsertRepository, type RepositoryRecord } from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import type { ServerDeps } from '../deps.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { nameParams, repositorySchema, resourceName } from '../schemas.ts';

export const repositoryUrl = z.string().min(1).max(2048)
  .refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(u), { error: 'put no password in the URL; give it in credentials.env' })
  .describe('any --repo location: a directory, sftp://, ftp://, ftps://, s3://');

export const repositoryCredentials = z.strictObject({
  passphrase: z.string().min(1).optional().describe('the repository passphrase (write-only)'),
  env: z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, { error: 'an environment variable name such as AWS_SECRET_ACCESS_KEY' }), z.string())
    .optional().describe('target secrets by the environment names the CLI reads: VMBAK_SFTP_PASSWORD, AWS_SECRET_ACCESS_KEY, … (write-only)'),
}).describe('write-only: never in an answer');

const care = careSpecSchema.describe('verify and gc schedules (cron, or false for none), nearly-full threshold; omitted: the defaults / keep');
const createBody = z.strictObject({ name: resourceName, url: repositoryUrl, credentials: repositoryCredentials.optional(), care: care.optional() });
const updateBody = z.strictObject({ url: repositoryUrl, credentials: repositoryCredentials.nullable().optional().describe('omitted: keep; null: remove'), care: care.optional() });

async function editableRepository(deps: ServerDeps, name: string): Promise<RepositoryRecord> {
  const repository = await getRepository(deps.controller.catalog, name);
  if (!repository) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name });
  if (repository.managedByConfig) throw new VmbakError('MANAGED_BY_CONFIG', { what: 'repository', name });
  return repository;
}

export const repositoryRoutes = [
  route({
    method: 'GET', url: '/repositories', access: 'viewer', tags: ['repositories'], summary: 'Repositories (without credentials)',
    query: z.strictObject(pageQueryFields), response: pageOf(repositorySchema),
    async handler({ deps, query }) {
      return pageArray(await listRepositories(deps.controller.catalog), (r) => r.name, query);
    },
  }),
  route({
    method: 'GET', url: '/repositories/:name', access: 'viewer', tags: ['repositories'], summary: 'One repository (without credentials)',
    params: nameParams, response: repositorySchema,
    async handler({ deps, params }) {
      const repository = await getRepository(deps.controller.catalog, params.name);
      if (!repository) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name: params.name });
      return repository;
    },
  }),
  route({
    method: 'POST', url: '/repositories', access: 'admin', tags: ['repositories'], audit: 'repository.create', status: 201,
    summary: 'Add a repository', body: createBody, response: repositorySchema,
    async handler({ deps, body }) {
      const { catalog, secrets } = deps.controller;
      if (await getRepository(catalog, body.name)) throw new VmbakError('CATALOG_CONFLICT', { what: 'repository', name: body.name, detail: 'exists already' });
      await upsertRepository(catalog, secrets, { name: body.name, url: body.url, credentials: body.credentials ?? null, care: body.care });
      await deps.controller.reloadPolicies();
      return (await getRepository(catalog, body.name))!;
    },
  }),
  route({
    method: 'PUT', url: '/repositories/:name', access: 'admin', tags: ['repositories'], audit: 'repository.update',
    summary: 'Change a repository\'s URL or credentials (not one the config file manages)', params: nameParams, body: updateBody, response: repositorySchema,
    async handler({ deps, params, body }) {
      const { catalog, secrets } = deps.controller;
      await editableRepository(deps, params.name);
      await upsertRepository(catalog, secrets, { name: params.name, url: body.url, credentials: body.credentials, care: body.care });
      await deps.controller.reloadPolicies();
      return (await getRepository(catalog, params.name))!;
    },
  }),
  route({
    method: 'DELETE', url: '/repositories/:name', access: 'admin', tags: ['repositories'], audit: 'repository.delete',
    summary: 'Remove a repository from the catalog (its backups stay on the target)', params: nameParams,
    async handler({ deps, params }) {
      await editableRepository(deps, params.name);
      const user = (await listPolicies(deps.controller.catalog)).find((p) => [...p.spec.repositories, ...p.spec.copyTo].includes(params.name));
      if (user) throw new VmbakError('CATALOG_CONFLICT', { what: 'repository', name: params.name, detail: `is named by policy ${user.name}; change the policy first` });
      await removeRepository(deps.controller.catalog, params.name);
      await deps.controller.reloadPolicies();
    },
  }),
];
