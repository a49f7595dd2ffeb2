// Policies: CRUD for the ones made through the API; the ones the config file declares are
// shown but read-only (409 MANAGED_BY_CONFIG). Every change is followed by
// controller.reloadPolicies(), so the schedule follows at once. The preview shows which VMs
// the policy's selectors match now, which VMs another policy also claims, and the next runs.

import { z } from 'zod';
import {
  checkPolicySpec, getPolicy, listPolicies, listRepositories, listVms, policySpecFields, removePolicy, upsertPolicy,
  type PolicyRecord,
} from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import { matchPolicies } from '../../controller/index.ts';
import type { Catalog } from '../../catalog/index.ts';
import type { ServerDeps } from '../deps.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { nameParams, policyConflictSchema, policySchema, resourceName } from '../schemas.ts';

const updateBody = z.strictObject({ enabled: z.boolean().default(true), ...policySpecFields }).superRefine(checkPolicySpec);
const createBody = z.strictObject({ name: resourceName, enabled: z.boolean().default(true), ...policySpecFields }).superRefine(checkPolicySpec);
type PolicyBody = z.output<typeof updateBody>;

const previewSchema = z.object({
  policy: z.string(),
  vms: z.array(z.object({ uuid: z.string(), name: z.string(), host: z.string().nullable() })).describe('VMs the selectors match now'),
  unmatched: z.array(z.string()).describe('selectors that match no VM'),
  conflicts: z.array(policyConflictSchema)
    .describe('matched VMs another policy matches too: an error shown on both; each still backs them up until resolved'),
  nextRunsMs: z.array(z.number()),
});

async function editablePolicy(deps: ServerDeps, name: string): Promise<PolicyRecord> {
  const policy = await getPolicy(deps.controller.catalog, name);
  if (!policy) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name });
  if (policy.managedByConfig) throw new VmbakError('MANAGED_BY_CONFIG', { what: 'policy', name });
  return policy;
}

/** A policy may name only repositories that exist. */
async function checkRepositories(deps: ServerDeps, body: PolicyBody): Promise<void> {
  const known = new Set((await listRepositories(deps.controller.catalog)).map((r) => r.name));
  for (const field of ['repositories', 'copyTo'] as const) {
    body[field].forEach((name, i) => {
      if (!known.has(name)) throw new VmbakError('INVALID_REQUEST', { field: `body.${field}[${i}]`, detail: `no repository named ${name}` });
    });
  }
}

async function savePolicy(deps: ServerDeps, name: string, body: PolicyBody) {
  await checkRepositories(deps, body);
  const { enabled, ...spec } = body;
  await upsertPolicy(deps.controller.catalog, { name, spec, enabled });
  await deps.controller.reloadPolicies();
  return (await policiesWithStatus(deps.controller.catalog, name))[0]!;
}

/** Policies (all, or the one named) with what their selectors match in the inventory now. */
async function policiesWithStatus(catalog: Catalog, only?: string) {
  const policies = await listPolicies(catalog);
  const matches = matchPolicies(policies, await listVms(catalog));
  return policies.filter((p) => only === undefined || p.name === only).map((p) => {
    const m = matches.get(p.name)!;
    return {
      ...p, status: {
        state: m.state, vmCount: m.vms.length, unmatched: [...m.unmatched],
        conflicts: m.conflicts.map((c) => ({ uuid: c.vm.uuid, name: c.vm.name, policies: [...c.policies] })),
      },
    };
  });
}

export const policyRoutes = [
  route({
    method: 'GET', url: '/policies', access: 'viewer', tags: ['policies'], summary: 'Backup policies',
    query: z.strictObject(pageQueryFields), response: pageOf(policySchema),
    async handler({ deps, query }) {
      return pageArray(await policiesWithStatus(deps.controller.catalog), (p) => p.name, query);
    },
  }),
  route({
    method: 'GET', url: '/policies/:name', access: 'viewer', tags: ['policies'], summary: 'One policy',
    params: nameParams, response: policySchema,
    async handler({ deps, params }) {
      const [policy] = await policiesWithStatus(deps.controller.catalog, params.name);
      if (!policy) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: params.name });
      return policy;
    },
  }),
  route({
    method: 'POST', url: '/policies', access: 'admin', tags: ['policies'], audit: 'policy.create', status: 201,
    summary: 'Create a policy', body: createBody, response: policySchema,
    async handler({ deps, body }) {
      const { name, ...rest } = body;
      if (await getPolicy(deps.controller.catalog, name)) throw new VmbakError('CATALOG_CONFLICT', { what: 'policy', name, detail: 'exists already' });
      return savePolicy(deps, name, rest);
    },
  }),
  route({
    method: 'PUT', url: '/policies/:name', access: 'admin', tags: ['policies'], audit: 'policy.update',
    summary: 'Replace a policy (not one the config file manages)', params: nameParams, body: updateBody, response: policySchema,
    async handler({ deps, params, body }) {
      await editablePolicy(deps, params.name);
      return savePolicy(deps, params.name, body);
    },
  }),
  route({
    method: 'DELETE', url: '/policies/:name', access: 'admin', tags: ['policies'], audit: 'policy.delete',
    summary: 'Delete a policy (not one the config file manages); its jobs and backups stay', params: nameParams,
    async handler({ deps, params }) {
      await editablePolicy(deps, params.name);
      await removePolicy(deps.controller.catalog, params.name);
      await deps.controller.reloadPolicies();
    },
  }),
  route({
    method: 'GET', url: '/policies/:name/preview', access: 'viewer', tags: ['policies'],
    summary: 'The VMs a policy matches now, conflicts with other policies, and its next runs',
    params: nameParams, query: z.strictObject({ runs: z.coerce.number().int().min(1).max(100).default(5) }), response: previewSchema,
    async handler({ deps, params, query }) {
      const [policy] = await policiesWithStatus(deps.controller.catalog, params.name);
      if (!policy) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'policy', name: params.name });
      const m = matchPolicies([policy], await listVms(deps.controller.catalog)).get(policy.name)!;
      return {
        policy: policy.name, vms: m.vms.map((vm) => ({ uuid: vm.uuid, name: vm.name, host: vm.host })),
        unmatched: policy.status.unmatched, conflicts: policy.status.conflicts,
        nextRunsMs: await deps.controller.nextRuns(policy.name, query.runs),
      };
    },
  }),
];
