// Instant-recovery watching: a VM running from a backup that the export no longer serves — its
// serving process died, or the repository lease was lost and the process paused the VM — raises
// instant.paused on every check until someone runs `vmbak instant resume` or `stop`; the
// notifier de-duplicates repeats of one VM's alert within its window. The serving process
// itself has no catalog or channels, so the controller of its host speaks for it.

import type { AlertNotifier } from '../alerts/index.ts';
import type { Hypervisor } from '../core/index.ts';
import { listInstantVms } from '../services/index.ts';

export async function checkInstantVms(hypervisor: Hypervisor, stateDir: string, notifier: Pick<AlertNotifier, 'notify'>, nowMs: number): Promise<number> {
  let raised = 0;
  for (const v of await listInstantVms(hypervisor, stateDir)) {
    const problem = v.status?.alert
      ?? (v.serverPid === null ? `its export is not running (VM ${v.vmState}); run vmbak instant resume ${v.record.vmName}` : null)
      ?? (v.vmState.startsWith('paused (I/O error)') ? 'it is paused on an I/O error of its disks' : null);
    if (!problem || v.vmState === 'missing') continue;
    raised++;
    notifier.notify({
      kind: 'instant.paused', key: v.record.vmName, severity: 'error', timeMs: nowMs,
      message: `instant-recovery VM ${v.record.vmName} (backup ${v.record.backupId} of ${v.record.sourceVm}): ${problem}`,
      data: { vm: v.record.vmName, backupId: v.record.backupId, vmState: v.vmState, serverPid: v.serverPid, alert: v.status?.alert ?? null },
    });
  }
  return raised;
}
