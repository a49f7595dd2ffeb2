// Cleanup after runs that died: for each run record whose owner is provably dead, thaw the
// guest when the run may have died with it frozen (thaw is harmless when it is not), end the
// libvirt backup job serving its socket, remove its scratch directory, delete the checkpoint
// it created unless a manifest needs it, then the record. A failed thaw keeps the record, so
// every later start tries again. Live owners and other hosts' records are never touched.
// Called on every vmbak start.

import { describeError } from '../../core/index.ts';
import { removeTree } from '../../host/index.ts';
import { deleteCheckpoint, listCheckpoints } from './checkpoints.ts';
import { endJob } from './hot-session.ts';
import { thawFilesystems } from './quiesce.ts';
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
  /** The dead run may have left the guest frozen, and it was thawed. */
  readonly thawed: boolean;
  readonly jobAborted: boolean;
  readonly checkpointDeleted: boolean;
  /** Why the record was kept for the next sweep, or null when it was removed. */
  readonly error: string | null;
}

export async function sweepStaleRuns(opts: SweepOptions = {}): Promise<SweptRun[]> {
  const stateDir = opts.stateDir ?? defaultStateDir();
  const swept: SweptRun[] = [];
  const records = readRunRecords(stateDir);
  for (const record of records) {
    if (ownerStatus(record) !== 'dead') continue;
    let thawed = false;
    let jobAborted = false;
    let checkpointDeleted = false;
    try {
      const state = await virshRaw(['domstate', record.vmUuid], { uri: record.uri }).then((out) => out.trim(), () => null);
      const vmExists = state !== null;
      const thaw = record.mayBeFrozen && state !== null && !frozenByLiveRun(records, record) ? await thawLeftFrozen(record, state) : NOTHING_TO_THAW;
      thawed = thaw.thawed;
      const thawError = thaw.error;
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
      if (thawError !== null) {
        swept.push({ record, thawed, jobAborted, checkpointDeleted, error: `its guest may still be frozen and could not be thawed (${thawError}); run: virsh domfsthaw ${record.vmName}` });
        continue;
      }
      removeRunRecord(stateDir, record.runId);
      swept.push({ record, thawed, jobAborted, checkpointDeleted, error: null });
    } catch (err) {
      swept.push({ record, thawed, jobAborted, checkpointDeleted, error: describeError(err) });
    }
  }
  return swept;
}

/** Short: a hung agent must not hold up every start for long. */
const SWEEP_THAW_TIMEOUT_MS = 10_000;

const NOTHING_TO_THAW = { thawed: false, error: null } as const;

/** Thaws the guest a dead run may have left frozen; a guest that stopped since has lost its freeze. */
async function thawLeftFrozen(record: RunRecord, state: string): Promise<{ thawed: boolean; error: string | null }> {
  if (state === 'paused' || state === 'pmsuspended') return { thawed: false, error: `the VM is ${state}` };
  if (state !== 'running') return NOTHING_TO_THAW;
  const error = await thawFilesystems({ uuid: record.vmUuid }, record.uri, SWEEP_THAW_TIMEOUT_MS);
  return { thawed: error === null, error };
}

/** A live vmbak inside its own freeze window of the same VM thaws it itself, at the right time. */
function frozenByLiveRun(records: readonly RunRecord[], dead: RunRecord): boolean {
  return records.some((r) => r !== dead && r.vmUuid === dead.vmUuid && r.mayBeFrozen === true && ownerStatus(r) === 'alive');
}
