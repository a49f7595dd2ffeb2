// Cleanup after runs that died: for each run record whose owner is provably dead, end the
// libvirt backup job serving its socket, remove its scratch directory, delete the checkpoint
// it created unless a manifest needs it, then the record. Live owners and other hosts'
// records are never touched. Called on every vmbak start.

import { describeError } from '../../core/index.ts';
import { removeTree } from '../../host/index.ts';
import { deleteCheckpoint, listCheckpoints } from './checkpoints.ts';
import { endJob } from './hot-session.ts';
import { defaultStateDir, ownerStatus, readRunRecords, removeRunRecord } from './run-records.ts';
import type { RunRecord } from './run-records.ts';
import { virshRaw } from './virsh.ts';

export interface SweepOptions {
  readonly stateDir?: string;
  /** True when a manifest in some repository has `checkpoint` as its base for this VM. */
  readonly isCheckpointNeeded?: (vmUuid: string, checkpoint: string) => boolean | Promise<boolean>;
}

export interface SweptRun {
  readonly record: RunRecord;
  readonly jobAborted: boolean;
  readonly checkpointDeleted: boolean;
  /** Why the record was kept for the next sweep, or null when it was removed. */
  readonly error: string | null;
}

export async function sweepStaleRuns(opts: SweepOptions = {}): Promise<SweptRun[]> {
  const stateDir = opts.stateDir ?? defaultStateDir();
  const swept: SweptRun[] = [];
  for (const record of readRunRecords(stateDir)) {
    if (ownerStatus(record) !== 'dead') continue;
    let jobAborted = false;
    let checkpointDeleted = false;
    try {
      const vmExists = await virshRaw(['domstate', record.vmUuid], { uri: record.uri }).then(() => true, () => false);
      if (vmExists) {
        jobAborted = await endJob({ uuid: record.vmUuid, name: record.vmName }, record.uri, record.scratchDir);
        if (record.checkpoint && (await listCheckpoints(record.vmUuid, { uri: record.uri })).includes(record.checkpoint)) {
          const needed = opts.isCheckpointNeeded ? await opts.isCheckpointNeeded(record.vmUuid, record.checkpoint) : false;
          if (!needed) {
            await deleteCheckpoint(record.vmUuid, record.checkpoint, { uri: record.uri });
            checkpointDeleted = true;
          }
        }
      }
      await removeTree(record.scratchDir);
      removeRunRecord(stateDir, record.runId);
      swept.push({ record, jobAborted, checkpointDeleted, error: null });
    } catch (err) {
      swept.push({ record, jobAborted, checkpointDeleted, error: describeError(err) });
    }
  }
  return swept;
}
