// Which hosts list a VM. The same UUID can be defined on several hosts: shared storage seen by
// each, or a definition left behind on the old host after a migration. A backup must read the
// VM where it runs — reading the shared disks of a VM running elsewhere as if it were shut off
// would store a torn image — and a shut-off VM can be read by any online host that has it.

import type { Catalog } from './open.ts';
import type { VmState } from '../core/index.ts';

export interface VmPlacement {
  readonly host: string;
  readonly state: VmState;
  readonly seenMs: number;
  readonly online: boolean;
}

/**
 * The host to back the VM up on. Where it runs (or is paused): only there — the newest such
 * listing on an online host, else on any host, since a host that went silent may still run it
 * and its shared disks must not be read elsewhere meanwhile. Shut off everywhere: the online
 * host that listed it most recently (any host that has it sees its storage), else the newest.
 * Ties go to `prefer` (the host reporting now). Null only for a VM no host lists.
 */
export function chooseHost(placements: readonly VmPlacement[], prefer?: string): VmPlacement | null {
  const newest = (list: readonly VmPlacement[]) => list.reduce<VmPlacement | null>(
    (best, p) => (!best || p.seenMs > best.seenMs || (p.seenMs === best.seenMs && p.host === prefer) ? p : best), null);
  const active = placements.filter((p) => p.state !== 'shutoff');
  const candidates = active.length > 0 ? active : placements;
  return newest(candidates.filter((p) => p.online)) ?? newest(candidates);
}

/** Every host's listing of the VMs (all VMs when `uuids` is absent), with the host's state. */
export async function listVmPlacements(catalog: Catalog, uuids?: readonly string[]): Promise<Map<string, VmPlacement[]>> {
  const byVm = new Map<string, VmPlacement[]>();
  if (uuids && uuids.length === 0) return byVm;
  for (let i = 0; i < (uuids?.length ?? 1); i += 500) {
    let q = catalog.db.selectFrom('vm_placements').innerJoin('hosts', 'hosts.name', 'vm_placements.host')
      .select(['vm_placements.uuid', 'vm_placements.host', 'vm_placements.state', 'vm_placements.seen_ms', 'hosts.state as host_state']);
    if (uuids) q = q.where('vm_placements.uuid', 'in', uuids.slice(i, i + 500));
    for (const r of await q.execute()) {
      const p: VmPlacement = { host: r.host, state: r.state as VmState, seenMs: r.seen_ms, online: r.host_state === 'online' };
      byVm.set(r.uuid, [...(byVm.get(r.uuid) ?? []), p]);
    }
  }
  return byVm;
}
