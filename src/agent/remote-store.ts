// The job store of a remote agent: each operation one call to the controller's
// /agent/store route, so a job records into the catalog exactly as it would on the
// controller's own host. A controller that is away (restarting) is waited for, up to
// `patienceMs`: every operation is safe to repeat (records are upserts), and a backup that
// is made must reach the catalog. Alerts are sent without waiting (a job never waits on
// alerting); one that cannot be delivered to the controller is reported on the agent's log.

import type { AlertEvent } from '../alerts/index.ts';
import { isVmbakError } from '../core/index.ts';
import type { JobStore } from '../controller/index.ts';
import type { ControllerClient } from './controller-client.ts';

export function remoteJobStore(client: ControllerClient, onProblem: (message: string) => void, patienceMs = 15 * 60_000): JobStore {
  const call = async <T>(op: string, args: object): Promise<T> => {
    const deadline = Date.now() + patienceMs;
    for (;;) {
      try {
        return (await client.call<{ value: T }>('POST', '/agent/store', { op, ...args })).value;
      } catch (err) {
        if (!isVmbakError(err, 'CONTROLLER_UNREACHABLE') || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  return {
    policySpec: (name) => call('policySpec', { name }),
    repository: (name) => call('repository', { name }),
    backupIdsInVerifyState: (repositories, state) => call('backupIdsInVerifyState', { repositories, state }),
    setVerifyState: (repository, backupId, state) => call('setVerifyState', { repository, backupId, state }),
    recordVmResult: (jobId, result) => call('recordVmResult', { jobId, result }),
    recordBackups: (backups) => call('recordBackups', { backups }),
    forgetBackups: (repository, backupIds) => call('forgetBackups', { repository, backupIds }),
    backupTotals: (repository) => call('backupTotals', { repository }),
    recordUsage: (repository, sample) => call('recordUsage', { repository, sample }),
    // The index is in the repository already: the controller reads it from there into its cache.
    cacheFileIndex: (ref) => call('fileIndexWritten', { repository: ref.repository }),
    alert: (event: AlertEvent) => {
      call('alert', { event }).catch((err: unknown) => onProblem(`alert ${event.kind} not passed to the controller: ${(err as Error).message}`));
    },
    nowMs: () => Date.now(),
  };
}
