// A status file per running `vmbak backup` process (a "job"), next to the libvirt run
// records: <stateDir>/jobs/<jobId>.json. It names the owner (host, pid, pid start time) so
// `vmbak jobs pause|resume|abort` signal the right process and never a reused pid, and it
// carries live progress (state, bytes read) that `vmbak jobs ls` and tests read.

import { join } from 'node:path';
import { defaultStateDir, ownerStatus, readRecords, removeRecord, writeRecord } from '../host/index.ts';

export interface JobRecord {
  readonly version: 1;
  readonly jobId: string;
  readonly host: string;
  readonly pid: number;
  readonly pidStartTicks: number | null;
  readonly startedAt: string;
  readonly command: string;
  readonly vms: readonly string[];
  readonly state: 'running' | 'paused' | 'aborting';
  readonly pausedAt: string | null;
  readonly maxPauseMs: number;
  readonly bytesRead: number;
  readonly bytesToRead: number;
  readonly updatedAt: string;
}

export function jobsDir(stateDir = defaultStateDir()): string {
  return join(stateDir, 'jobs');
}

export function writeJobRecord(dir: string, record: JobRecord): void {
  writeRecord(dir, record.jobId, record);
}

export function removeJobRecord(dir: string, jobId: string): void {
  removeRecord(dir, jobId);
}

export function readJobRecords(dir: string): JobRecord[] {
  return readRecords(dir, (v): v is JobRecord => (v as JobRecord)?.version === 1 && typeof (v as JobRecord).jobId === 'string')
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** 'alive', 'dead' (same host, pid gone or reused) or 'foreign' (another host: never touched). */
export function jobOwnerStatus(record: JobRecord): 'alive' | 'dead' | 'foreign' {
  return ownerStatus(record);
}
