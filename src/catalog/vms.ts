// The VM inventory as last reported by each host: synced from the hypervisor's listing every
// minute and on demand. A VM the listing no longer shows is kept with gone_ms set (its
// backups and history still refer to it). A VM listed by several hosts belongs to the one it
// runs on (vm-placements.ts); one that only another host lists now moves there.

import type { VmDisk, VmInfo, VmState } from '../core/index.ts';
import type { Catalog } from './open.ts';
import { inTransaction } from './open.ts';
import type { VmTable } from './schema.ts';
import { recordHostSeen } from './hosts.ts';
import { chooseHost, listVmPlacements } from './vm-placements.ts';

export interface VmRecord {
  readonly uuid: string;
  readonly name: string;
  readonly host: string | null;
  readonly state: VmState;
  readonly disks: readonly VmDisk[];
  readonly tags: readonly string[];
  readonly firstSeenMs: number;
  readonly seenMs: number;
  /** When the host's listing stopped showing it; null while it is there. */
  readonly goneMs: number | null;
  /** The policy that backs it up (assignVmPolicies), or null. */
  readonly policy: string | null;
}

export interface VmSyncResult {
  readonly listed: number;
  readonly gone: number;
}

/**
 * Records `host`'s complete listing: its placements (vm-placements.ts) are replaced by it, and
 * each VM's row follows the host chosen for it — a VM also defined on another host keeps that
 * host while it runs there. A VM this host no longer lists moves to another host that lists
 * it, or is marked gone when none does.
 */
export async function syncHostVms(catalog: Catalog, host: string, vms: readonly VmInfo[], uri: string | null = null): Promise<VmSyncResult> {
  return inTransaction(catalog, async (tx) => {
    await recordHostSeen(tx, host, uri);
    const nowMs = tx.clock.nowMs();
    const listed = vms.map((vm) => vm.uuid);
    let dropped = tx.db.deleteFrom('vm_placements').where('host', '=', host);
    if (listed.length > 0) dropped = dropped.where('uuid', 'not in', listed);
    await dropped.execute();
    for (const vm of vms) {
      await tx.db.insertInto('vm_placements').values({ uuid: vm.uuid, host, state: vm.state, seen_ms: nowMs })
        .onConflict((oc) => oc.columns(['uuid', 'host']).doUpdateSet({ state: vm.state, seen_ms: nowMs }))
        .execute();
    }
    const placements = await listVmPlacements(tx, listed);
    for (const vm of vms) {
      const row = { name: vm.name, host, state: vm.state, disks_json: JSON.stringify(vm.disks), tags_json: JSON.stringify(vm.tags) };
      const owner = chooseHost(placements.get(vm.uuid) ?? [], host);
      const insert = tx.db.insertInto('vms').values({ uuid: vm.uuid, ...row, first_seen_ms: nowMs, seen_ms: nowMs, gone_ms: null });
      await (owner === null || owner.host === host
        ? insert.onConflict((oc) => oc.column('uuid').doUpdateSet({ ...row, seen_ms: nowMs, gone_ms: null }))
        : insert.onConflict((oc) => oc.column('uuid').doUpdateSet({ seen_ms: nowMs, gone_ms: null }))
      ).execute();
    }
    let leftQuery = tx.db.selectFrom('vms').select('uuid').where('host', '=', host).where('gone_ms', 'is', null);
    if (listed.length > 0) leftQuery = leftQuery.where('uuid', 'not in', listed);
    const left = (await leftQuery.execute()).map((r) => r.uuid);
    const elsewhere = await listVmPlacements(tx, left);
    let gone = 0;
    for (const uuid of left) {
      const next = chooseHost(elsewhere.get(uuid) ?? []);
      if (next) await tx.db.updateTable('vms').set({ host: next.host, state: next.state }).where('uuid', '=', uuid).execute();
      else {
        await tx.db.updateTable('vms').set({ gone_ms: nowMs }).where('uuid', '=', uuid).execute();
        gone++;
      }
    }
    return { listed: vms.length, gone };
  });
}

export async function listVms(catalog: Catalog, opts: { includeGone?: boolean; host?: string } = {}): Promise<VmRecord[]> {
  let q = catalog.db.selectFrom('vms').selectAll().orderBy('name').orderBy('uuid');
  if (!opts.includeGone) q = q.where('gone_ms', 'is', null);
  if (opts.host !== undefined) q = q.where('host', '=', opts.host);
  return (await q.execute()).map(toRecord);
}

/**
 * Records which policy backs up which VM, as the caller evaluated the policies' selectors
 * (null: none, or a conflict between two). Only the VMs named change.
 */
export async function assignVmPolicies(catalog: Catalog, assignments: ReadonlyMap<string, string | null>): Promise<void> {
  const byPolicy = Map.groupBy(assignments.keys(), (uuid) => assignments.get(uuid) ?? null);
  await inTransaction(catalog, async (tx) => {
    for (const [policy, uuids] of byPolicy) {
      for (let i = 0; i < uuids.length; i += 500) {
        await tx.db.updateTable('vms').set({ policy }).where('uuid', 'in', uuids.slice(i, i + 500)).execute();
      }
    }
  });
}

/** The VMs a name or a UUID refers to (names are not unique across hosts). */
export async function findVms(catalog: Catalog, nameOrUuid: string): Promise<VmRecord[]> {
  const rows = await catalog.db.selectFrom('vms').selectAll()
    .where((eb) => eb.or([eb('uuid', '=', nameOrUuid.toLowerCase()), eb('name', '=', nameOrUuid)]))
    .orderBy('uuid').execute();
  return rows.map(toRecord);
}

function toRecord(row: VmTable): VmRecord {
  return {
    uuid: row.uuid, name: row.name, host: row.host, state: row.state as VmState,
    disks: JSON.parse(row.disks_json) as VmDisk[], tags: JSON.parse(row.tags_json) as string[],
    firstSeenMs: row.first_seen_ms, seenMs: row.seen_ms, goneMs: row.gone_ms, policy: row.policy,
  };
}
