// A status file per running `vmbak backup` process (a "job"), next to the libvirt run
// records: <stateDir>/jobs/<jobId>.json. It names the owner (host, pid, pid start time) so
// `vmbak jobs pause|resume|abort` signal the right process and never a reused pid, and it
// carries live progress (state, bytes read) that `vmbak jobs ls` and tests read.

import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { libvirt } from '../hypervisors/index.ts';

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

export function jobsDir(stateDir = libvirt.defaultStateDir()): string {
  return join(stateDir, 'jobs');
}

/** Atomic (temp + rename): a reader never sees half a record. */
export function writeJobRecord(dir: string, record: JobRecord): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${record.jobId}.json`);
  writeFileSync(`${path}.tmp`, JSON.stringify(record, null, 2));
  renameSync(`${path}.tmp`, path);
}

export function removeJobRecord(dir: string, jobId: string): void {
  rmSync(join(dir, `${jobId}.json`), { force: true });
}

export function readJobRecords(dir: string): JobRecord[] {
  let names: string[];
  try { names = readdirSync(dir); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: JobRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      const rec = JSON.parse(readFileSync(join(dir, name), 'utf8')) as JobRecord;
      if (rec.version === 1 && rec.jobId) out.push(rec);
    } catch { /* being replaced or damaged: the next listing sees it */ }
  }
  return out.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** 'alive', 'dead' (same host, pid gone or reused) or 'foreign' (another host: never touched). */
export function jobOwnerStatus(record: JobRecord): 'alive' | 'dead' | 'foreign' {
  if (record.host !== hostname()) return 'foreign';
  const ticks = libvirt.processStartTicks(record.pid);
  if (ticks === null) return 'dead';
  if (record.pidStartTicks !== null && ticks !== record.pidStartTicks) return 'dead';
  return 'alive';
}
