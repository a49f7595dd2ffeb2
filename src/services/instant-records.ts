// Where an instant-recovery VM's host state lives, so `instant ls/stop/resume/migrate`, a
// restart of its export and the sweep can find it after any crash:
//   STATE/instant/NAME.json      the record (written by the command that made the VM; the
//                                 record is written before the overlays and the VM exist, so a
//                                 crash in between leaves something the sweep can find)
//   STATE/instant/NAME/nbd.sock  the export's unix socket (the overlays' backing store)
//   STATE/instant/NAME/status.json  written by the serving process: pid, bytes read from packs
//   STATE/instant/NAME/serve.log the serving process's output (failed reads, a lost lease)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownerStatus, readRecords, removeRecord, writeRecord, type ProcessOwner } from '../host/index.ts';

export interface InstantOverlay {
  readonly disk: string;
  readonly path: string;
  readonly sizeBytes: number;
}

export interface InstantRecord {
  readonly kind: 'vmbak-instant';
  readonly vmName: string;
  readonly backupId: string;
  readonly sourceVm: string;
  /** The repository the export reads (its location as given), for a restart of the export. */
  readonly repo: string;
  readonly socketPath: string;
  readonly overlays: readonly InstantOverlay[];
  /** The pool directory the command created (removed again by stop when empty), or null. */
  readonly createdPoolDir: string | null;
  readonly createdAt: string;
  /** The command that made the VM: while it runs, the VM may not exist yet and the sweep leaves the record alone. */
  readonly creator: ProcessOwner;
}

export interface InstantStatus {
  readonly owner: ProcessOwner;
  /** 'starting' until the socket listens; 'lease-lost' once the repository lease is gone. */
  readonly state: 'starting' | 'serving' | 'lease-lost' | 'stopped';
  readonly packBytesRead: number;
  readonly updatedAt: string;
  /** Why the VM was paused by the export, or null. */
  readonly alert: string | null;
}

export function instantRoot(stateDir: string): string {
  return join(stateDir, 'instant');
}

export function instantDir(stateDir: string, vmName: string): string {
  return join(instantRoot(stateDir), vmName);
}

export function instantPaths(stateDir: string, vmName: string): { dir: string; socket: string; status: string; log: string } {
  const dir = instantDir(stateDir, vmName);
  return { dir, socket: join(dir, 'nbd.sock'), status: join(dir, 'status.json'), log: join(dir, 'serve.log') };
}

function isInstantRecord(v: unknown): v is InstantRecord {
  const r = v as Partial<InstantRecord> | null;
  return typeof r === 'object' && r !== null && r.kind === 'vmbak-instant' && typeof r.vmName === 'string' && Array.isArray(r.overlays);
}

export function readInstantRecords(stateDir: string): InstantRecord[] {
  return readRecords(instantRoot(stateDir), isInstantRecord);
}

export function readInstantRecord(stateDir: string, vmName: string): InstantRecord | null {
  return readInstantRecords(stateDir).find((r) => r.vmName === vmName) ?? null;
}

export function writeInstantRecord(stateDir: string, record: InstantRecord): void {
  writeRecord(instantRoot(stateDir), record.vmName, record);
}

export function removeInstantRecord(stateDir: string, vmName: string): void {
  removeRecord(instantRoot(stateDir), vmName);
}

export function writeInstantStatus(stateDir: string, vmName: string, status: InstantStatus): void {
  writeRecord(instantDir(stateDir, vmName), 'status', status);
}

export function readInstantStatus(stateDir: string, vmName: string): InstantStatus | null {
  try {
    return JSON.parse(readFileSync(instantPaths(stateDir, vmName).status, 'utf8')) as InstantStatus;
  } catch {
    return null;
  }
}

/** The serving process's pid while it runs (its start time matches), else null. */
export function liveServerPid(status: InstantStatus | null): number | null {
  if (!status || status.state === 'stopped') return null;
  return ownerStatus(status.owner) === 'alive' ? status.owner.pid : null;
}
