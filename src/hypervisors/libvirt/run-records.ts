// A record of each hot-backup run, written before backup-begin, so the next vmbak start can
// clean up after a run that died (kill -9, power loss): its libvirt job, scratch files and
// the checkpoint it created. A record is only ever swept when its owner is provably dead —
// same host and its pid gone, or the pid reused by a process that started at another time —
// so a backup another live vmbak runs is never touched.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

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
}

export function defaultStateDir(): string {
  return process.env.VMBAK_STATE_DIR ?? '/var/lib/vmbak/runs';
}

export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return null;
  }
}

export function newRunRecord(fields: Omit<RunRecord, 'version' | 'host' | 'pid' | 'pidStartTicks' | 'startedAt'>): RunRecord {
  return {
    version: 1, host: hostname(), pid: process.pid, pidStartTicks: processStartTicks(process.pid),
    startedAt: new Date().toISOString(), ...fields,
  };
}

/** Writes the record atomically (temp + rename) so a crash never leaves half a record. */
export function writeRunRecord(stateDir: string, record: RunRecord): string {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, `${record.runId}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${path}.tmp`, path);
  return path;
}

export function removeRunRecord(stateDir: string, runId: string): void {
  rmSync(join(stateDir, `${runId}.json`), { force: true });
}

export function readRunRecords(stateDir: string): RunRecord[] {
  let names: string[];
  try { names = readdirSync(stateDir); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const records: RunRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      const rec = JSON.parse(readFileSync(join(stateDir, name), 'utf8')) as RunRecord;
      if (rec.version === 1 && rec.runId) records.push(rec);
    } catch { /* a record being renamed into place or damaged: skip, next sweep sees it */ }
  }
  return records;
}

/** 'alive', 'dead', or 'foreign' (another host: we cannot tell, so we never touch it). */
export function ownerStatus(record: RunRecord): 'alive' | 'dead' | 'foreign' {
  if (record.host !== hostname()) return 'foreign';
  const ticks = processStartTicks(record.pid);
  if (ticks === null) return 'dead';
  if (record.pidStartTicks !== null && ticks !== record.pidStartTicks) return 'dead';
  return 'alive';
}
