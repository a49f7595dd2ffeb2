// The checkpoint sweep policy: before a backup run (and when `vmbak serve` starts) what killed
// runs left on the hypervisor is undone — backup jobs, scratch files, frozen guests, and the
// checkpoints they created. A checkpoint stays when any repository records it as a backup's
// base (it is the next incremental's starting point) — or when a repository cannot be read,
// since then nobody can tell, and deleting it would force a full read that was not needed.

import type { Hypervisor, SweptLeftover } from '../core/index.ts';
import type { RepoHandle } from '../engine/index.ts';
import { listBackups } from '../repository/index.ts';

export async function sweepLeftovers(hypervisor: Hypervisor, repositories: readonly RepoHandle[]): Promise<SweptLeftover[]> {
  return hypervisor.sweepLeftovers({
    isCheckpointNeeded: async (vmUuid, checkpoint) => {
      for (const r of repositories) {
        try {
          const { backups } = await listBackups(await r.open());
          if (backups.some((m) => m.vm.uuid === vmUuid && m.checkpointId === checkpoint)) return true;
        } catch {
          return true;
        }
      }
      return false;
    },
  });
}

/** One line for the log or the terminal: what was undone, or why the leftover stays. */
export function describeLeftover(s: SweptLeftover): string {
  return `cleaned up after a dead run of ${s.vmName}: ${s.error ?? `${s.thawed ? 'guest filesystems thawed, ' : ''}${s.jobAborted ? 'backup job ended, ' : ''}${s.checkpointDeleted ? `checkpoint ${s.checkpoint} deleted, ` : ''}scratch removed`}`;
}
