// The VM inventory as last reported by each host: synced from the hypervisor's listing every
// minute and on demand. A VM the listing no longer shows is kept with gone_ms set (its
// backups and history still refer to it); a VM that appears on another host moves there.

import type { VmDisk, VmInfo, VmState } from '../core/index.ts';
import type { Catalog } from './open.ts';
import { inTransaction } from './open.ts';
import type { VmTable } from './schema.ts';
import { recordHostSeen } from './hosts.ts';

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

/** Records `host`'s complete listing: upserts every VM in it, marks its other VMs gone. */
export async function syncHostVms(catalog: Catalog, host: string, vms: readonly VmInfo[], uri: string | null = null): Promise<VmSyncResult> {
  return inTransaction(catalog, async (tx) => {
    await recordHostSeen(tx, host, uri);
    const nowMs = tx.clock.nowMs();
    for (const vm of vms) {
      const row = { name: vm.name, host, state: vm.state, disks_json: JSON.stringify(vm.disks), tags_json: JSON.stringify(vm.tags) };
      await tx.db.insertInto('vms')
        .values({ uuid: vm.uuid, ...row, first_seen_ms: nowMs, seen_ms: nowMs, gone_ms: null })
        .onConflict((oc) => oc.column('uuid').doUpdateSet({ ...row, seen_ms: nowMs, gone_ms: null }))
        .execute();
    }
    let goneQuery = tx.db.updateTable('vms').set({ gone_ms: nowMs }).where('host', '=', host).where('gone_ms', 'is', null);
    if (vms.length > 0) goneQuery = goneQuery.where('uuid', 'not in', vms.map((vm) => vm.uuid));
    const gone = await goneQuery.executeTakeFirst();
    return { listed: vms.length, gone: Number(gone.numUpdatedRows) };
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
