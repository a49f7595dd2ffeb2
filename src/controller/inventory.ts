// The hypervisor's inventory in the catalog: VMs (name, UUID, state, disks, tags) listed
// every minute and on demand, and which policy covers each — evaluated from the policies'
// selectors each time, disabled policies included (their RPO keeps watching). A VM that two
// policies select is a conflict, reported once per sync for both policies.

import { hostName } from '../host/index.ts';
import type { Hypervisor, StoragePool, VmInfo } from '../core/index.ts';
import { assignVmPolicies, listPolicies, recordHostPools, recordHostSeen, syncHostVms, type Catalog } from '../catalog/index.ts';
import { matchPolicies } from './policy-match.ts';

export interface InventorySyncResult {
  readonly vms: number;
  /** "VM x is selected by policies a and b" — the policy each VM ended with is the first by name. */
  readonly conflicts: readonly string[];
}

export async function syncInventory(catalog: Catalog, hypervisor: Hypervisor): Promise<InventorySyncResult> {
  const pools = await hypervisor.listStoragePools().catch(() => undefined);
  return recordInventory(catalog, hostName(), hypervisor.location, await hypervisor.listVms(), pools);
}

/** A host's VMs as it listed them (the local hypervisor, or an agent's report), and the policies over all VMs anew. */
export async function recordInventory(
  catalog: Catalog, host: string, uri: string | null, vms: readonly VmInfo[], pools?: readonly StoragePool[],
): Promise<InventorySyncResult> {
  await recordHostSeen(catalog, host, uri);
  await syncHostVms(catalog, host, vms, uri);
  if (pools) await recordHostPools(catalog, host, pools);
  const matches = matchPolicies(await listPolicies(catalog), vms);
  const owners = new Map<string, string[]>();
  for (const [policy, m] of matches) for (const vm of m.vms) owners.set(vm.uuid, [...(owners.get(vm.uuid) ?? []), policy]);
  const assignments = new Map<string, string | null>(vms.map((vm) => [vm.uuid, owners.get(vm.uuid)?.[0] ?? null]));
  await assignVmPolicies(catalog, assignments);
  const conflicts = vms.filter((vm) => (owners.get(vm.uuid)?.length ?? 0) > 1)
    .map((vm) => `VM ${vm.name} is selected by policies ${owners.get(vm.uuid)!.join(' and ')}`);
  return { vms: vms.length, conflicts };
}
