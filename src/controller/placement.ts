// Where a backup runs when agents do the work: on the host each VM runs on now, as the
// agents' inventory reports last placed it. A VM that moved is found on its new host at the
// next report (its changed-block chain stays with the old host's checkpoints, so the new
// host's first backup reads it whole and says why).

import { listVms, type Catalog } from '../catalog/index.ts';
import { selectVms } from '../services/index.ts';

/** The UUIDs of the VMs the patterns select, by the host that has them. */
export async function placeVms(catalog: Catalog, patterns: readonly string[]): Promise<Map<string, string[]>> {
  const { vms } = selectVms(await listVms(catalog), patterns);
  const byHost = new Map<string, string[]>();
  for (const vm of vms) {
    if (vm.host === null) continue;
    byHost.set(vm.host, [...(byHost.get(vm.host) ?? []), vm.uuid]);
  }
  return byHost;
}
