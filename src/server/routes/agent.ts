// What agents fetch from the controller. The credentials route is the one place a secret
// leaves the controller: for the agent role only (no person, not even an admin, reads a
// stored credential back), and each read is in the audit log.

import { z } from 'zod';
import { getRepository, readRepositoryCredentials } from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import { route } from '../routing.ts';

export const agentRoutes = [
  route({
    method: 'GET', url: '/agent/credentials/:repository', access: 'agent', tags: ['agent'], audit: 'repository.credentials-read',
    summary: 'A repository\'s location and credentials, for an agent that writes to it',
    params: z.strictObject({ repository: z.string().min(1) }),
    response: z.object({ name: z.string(), url: z.string(), passphrase: z.string().nullable(), env: z.record(z.string(), z.string()) }),
    async handler({ deps, params }) {
      const { catalog, secrets } = deps.controller;
      const repository = await getRepository(catalog, params.repository);
      if (!repository) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'repository', name: params.repository });
      const credentials = await readRepositoryCredentials(catalog, secrets, repository.name);
      return { name: repository.name, url: repository.url, passphrase: credentials?.passphrase ?? null, env: { ...credentials?.env } };
    },
  }),
];
