// A record of each hot-backup run, written before backup-begin, so the next vmbak start can
// clean up after a run that died (kill -9, power loss): its libvirt job, scratch files and
// the checkpoint it created — and thaw the guest when the run died while it may have been
// frozen (qemu-ga on Linux never thaws by itself). A record is only ever swept when its owner
// is provably dead — same host and its pid gone, or the pid reused by a process that started
// at another time — so a backup another live vmbak runs is never touched.

import { currentProcessOwner, ownerStatus as processOwnerStatus, readRecords, removeRecord, writeRecord } from '../../host/index.ts';

export { defaultStateDir } from '../../host/index.ts';

export interface RunRecord {
  readonly version: 1;
  readonly runId: string;
  readonly host: string;
  readonly pid: number;
  /** The owner's start time in clock ticks since boot (/proc/PID/stat field 22). */
  readonly pidStartTicks: number | null;
  readonly startedAt: string;
  readonly uri: string;
  readonly vmUuid: string;
  readonly vmName: string;
  /** Checkpoint this run creates with backup-begin, or null. */
  readonly checkpoint: string | null;
  /** Directory holding this run's NBD socket and scratch files (removed whole). */
  readonly scratchDir: string;
  /**
   * True from just before the guest freeze until its thaw succeeded (absent: false). No fsync:
   * it only has to outlive this process, and a host crash ends the frozen guest too.
   */
  readonly mayBeFrozen?: boolean;
}

export function newRunRecord(fields: Omit<RunRecord, 'version' | 'host' | 'pid' | 'pidStartTicks' | 'startedAt'>): RunRecord {
  return { version: 1, ...currentProcessOwner(), startedAt: new Date().toISOString(), ...fields };
}

export function writeRunRecord(stateDir: string, record: RunRecord): string {
  return writeRecord(stateDir, record.runId, record);
}

export function removeRunRecord(stateDir: string, runId: string): void {
  removeRecord(stateDir, runId);
}

export function readRunRecords(stateDir: string): RunRecord[] {
  return readRecords(stateDir, (v): v is RunRecord => (v as RunRecord)?.version === 1 && typeof (v as RunRecord).runId === 'string');
}

/** 'alive', 'dead', or 'foreign' (another host: we cannot tell, so we never touch it). */
export function ownerStatus(record: RunRecord): 'alive' | 'dead' | 'foreign' {
  return processOwnerStatus(record);
}
