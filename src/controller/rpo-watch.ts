// RPO watching: every VM whose policy has an RPO and whose newest good backup is older than
// it (or missing) raises rpo.missed — checked continuously, whether or not its policy is
// enabled, since a disabled schedule is exactly when backups silently stop. The notifier
// de-duplicates repeats of one VM's alert within its window.

import type { AlertNotifier } from '../alerts/index.ts';
import { summarizeProtection, type Catalog } from '../catalog/index.ts';

export async function checkRpo(catalog: Catalog, notifier: AlertNotifier): Promise<number> {
  const nowMs = catalog.clock.nowMs();
  const summary = await summarizeProtection(catalog, nowMs, 1000);
  for (const vm of summary.missed) {
    const age = vm.lastGoodBackupMs === null ? 'has no good backup' : `last good backup ${Math.round((nowMs - vm.lastGoodBackupMs) / 60_000)} min ago`;
    notifier.notify({
      kind: 'rpo.missed', key: vm.uuid, severity: 'error', timeMs: nowMs,
      message: `VM ${vm.name} missed its RPO of ${Math.round((vm.rpoMs ?? 0) / 60_000)} min (policy ${vm.policy}): ${age}`,
      data: { vm: vm.name, uuid: vm.uuid, policy: vm.policy, lastGoodBackupMs: vm.lastGoodBackupMs, rpoMs: vm.rpoMs },
    });
  }
  return summary.missed.length;
}
