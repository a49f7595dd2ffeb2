// Where a backup runs when agents do the work: on the host each VM runs on now, as the
// agents' inventory reports place it. A VM defined on several hosts (shared storage, or a
// definition left on the old host after a migration) is read where it runs; a shut-off one by
// any online host that has it, so a lost host does not leave its shut-off VMs unprotected. A
// VM that moved is found on its new host at the next report (its changed-block chain stays
// with the old host's checkpoints, so the new host's first backup reads it whole and says why).

import { chooseHost, listVmPlacements, listVms, type Catalog } from '../catalog/index.ts';
import { selectVms } from '../services/index.ts';

/** The UUIDs of the VMs the patterns select, by the host to back each up on. */
export async function placeVms(catalog: Catalog, patterns: readonly string[]): Promise<Map<string, string[]>> {
  const { vms } = selectVms(await listVms(catalog), patterns);
  const placements = await listVmPlacements(catalog, vms.map((vm) => vm.uuid));
  const byHost = new Map<string, string[]>();
  for (const vm of vms) {
    // A chosen host that is offline still gets the job: it waits for that host's agent.
    const host = chooseHost(placements.get(vm.uuid) ?? [])?.host ?? vm.host;
    if (host === null) continue;
    byHost.set(host, [...(byHost.get(host) ?? []), vm.uuid]);
  }
  return byHost;
}
