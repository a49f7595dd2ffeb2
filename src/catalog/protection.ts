// "Is everything protected?": each present VM with its newest backup and its newest good one
// (any verify state but failed — a backup whose verify failed protects nothing), read from
// vm_backup_summary (backup-summary.ts) rather than from millions of backups. The RPO
// verdict needs the VM's policy, which the caller (the services, evaluating selectors)
// supplies; the arithmetic is here.

import type { VmState } from '../core/index.ts';
import type { Catalog } from './open.ts';

export interface VmProtection {
  readonly uuid: string;
  readonly name: string;
  readonly host: string | null;
  readonly state: VmState;
  readonly tags: readonly string[];
  readonly lastBackupMs: number | null;
  readonly lastGoodBackupMs: number | null;
}

export interface ProtectionSummary {
  readonly vms: number;
  /** VMs with at least one good backup. */
  readonly protectedVms: number;
  readonly unprotectedVms: number;
  /** VMs whose policy has an RPO and whose newest good backup is younger than it. */
  readonly rpoMet: number;
  /** VMs whose policy has an RPO and whose newest good backup is older (or missing). */
  readonly rpoMissed: readonly string[];
  /** VMs no policy with an RPO covers. */
  readonly noRpo: number;
}

export async function listVmProtection(catalog: Catalog): Promise<VmProtection[]> {
  const rows = await catalog.db.selectFrom('vms as v')
    .leftJoin('vm_backup_summary as s', 's.vm_key', 'v.uuid')
    .select(['v.uuid', 'v.name', 'v.host', 'v.state', 'v.tags_json', 's.last_backup_ms', 's.last_good_backup_ms'])
    .where('v.gone_ms', 'is', null).execute();
  return rows.map((r) => ({
    uuid: r.uuid, name: r.name, host: r.host, state: r.state as VmState, tags: JSON.parse(r.tags_json) as string[],
    lastBackupMs: r.last_backup_ms ?? null, lastGoodBackupMs: r.last_good_backup_ms ?? null,
  }));
}

/** Counts over `vms`; `rpoMsOf` gives a VM's RPO from its policy, or null when none applies. */
export function summarizeProtection(vms: readonly VmProtection[], nowMs: number, rpoMsOf: (vm: VmProtection) => number | null): ProtectionSummary {
  let protectedVms = 0;
  let rpoMet = 0;
  let noRpo = 0;
  const rpoMissed: string[] = [];
  for (const vm of vms) {
    if (vm.lastGoodBackupMs !== null) protectedVms++;
    const rpoMs = rpoMsOf(vm);
    if (rpoMs === null) noRpo++;
    else if (vm.lastGoodBackupMs !== null && nowMs - vm.lastGoodBackupMs <= rpoMs) rpoMet++;
    else rpoMissed.push(vm.uuid);
  }
  return { vms: vms.length, protectedVms, unprotectedVms: vms.length - protectedVms, rpoMet, rpoMissed, noRpo };
}
