// Hosts and VMs as the inventory sync last saw them, each VM with its newest backup and its
// newest good one; `vm` accepts a name or a UUID.

import { z } from 'zod';
import { findVms, listHosts, listVmProtection, listVms, type VmRecord } from '../../catalog/index.ts';
import { VmbakError } from '../../core/index.ts';
import type { ServerDeps } from '../deps.ts';
import { pageArray, pageOf, pageQueryFields } from '../paging.ts';
import { route } from '../routing.ts';
import { hostSchema, vmSchema } from '../schemas.ts';

const vmQuery = z.strictObject({
  ...pageQueryFields,
  vm: z.string().min(1).optional().describe('a VM name or UUID'),
  host: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
  state: z.enum(['running', 'paused', 'shutoff', 'other']).optional(),
  tag: z.string().min(1).optional(),
  includeGone: z.stringbool().default(false).describe('also VMs the hypervisor no longer lists'),
});

async function withProtection(deps: ServerDeps, vms: readonly VmRecord[]): Promise<z.input<typeof vmSchema>[]> {
  const protection = new Map((await listVmProtection(deps.controller.catalog)).map((p) => [p.uuid, p]));
  return vms.map((vm) => ({
    ...vm, disks: [...vm.disks], tags: [...vm.tags],
    lastBackupMs: protection.get(vm.uuid)?.lastBackupMs ?? null, lastGoodBackupMs: protection.get(vm.uuid)?.lastGoodBackupMs ?? null,
  }));
}

export const inventoryRoutes = [
  route({
    method: 'GET', url: '/hosts', access: 'viewer', tags: ['inventory'], summary: 'Hypervisor hosts',
    query: z.strictObject(pageQueryFields), response: pageOf(hostSchema),
    async handler({ deps, query }) {
      return pageArray(await listHosts(deps.controller.catalog), (h) => h.name, query);
    },
  }),
  route({
    method: 'GET', url: '/vms', access: 'viewer', tags: ['inventory'], summary: 'VMs, with filters and their newest backups',
    query: vmQuery, response: pageOf(vmSchema),
    async handler({ deps, query }) {
      const { catalog } = deps.controller;
      let vms = query.vm !== undefined ? await findVms(catalog, query.vm) : await listVms(catalog, { includeGone: query.includeGone });
      vms = vms.filter((vm) => (query.includeGone || vm.goneMs === null)
        && (query.host === undefined || vm.host === query.host) && (query.policy === undefined || vm.policy === query.policy)
        && (query.state === undefined || vm.state === query.state) && (query.tag === undefined || vm.tags.includes(query.tag)));
      const page = pageArray(vms, (vm) => `${vm.name}\u0000${vm.uuid}`, query);
      return { ...page, items: await withProtection(deps, page.items) };
    },
  }),
  route({
    method: 'GET', url: '/vms/:vm', access: 'viewer', tags: ['inventory'], summary: 'One VM, by name or UUID',
    params: z.strictObject({ vm: z.string().min(1) }), response: vmSchema,
    async handler({ deps, params }) {
      const vms = await findVms(deps.controller.catalog, params.vm);
      if (vms.length === 0) throw new VmbakError('CATALOG_NOT_FOUND', { what: 'VM', name: params.vm });
      if (vms.length > 1) throw new VmbakError('CATALOG_CONFLICT', { what: 'VM name', name: params.vm, detail: `is shared by ${vms.length} VMs; use a UUID` });
      return (await withProtection(deps, vms))[0]!;
    },
  }),
  route({
    method: 'POST', url: '/vms/sync', access: 'operator', tags: ['inventory'], audit: 'inventory.sync',
    summary: 'Read the hypervisors\' inventories into the catalog now',
    async handler({ deps }) { await deps.controller.syncInventory(); },
  }),
];
