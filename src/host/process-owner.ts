// Who owns a lock, a run or a job: host, pid and the pid's start time. The start time tells a
// live owner from a dead one whose pid the kernel has since given to another process, so
// cleanup after a crash never touches the work of a process that is still running.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface ProcessOwner {
  readonly host: string;
  readonly pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22), or null. */
  readonly pidStartTicks: number | null;
}

export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields follow the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A zombie (killed, not yet reaped — a detached process whose parent is gone may wait long for that) is dead.
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/**
 * This host's name as vmbak records it. VMBAK_HOSTNAME overrides the kernel's name so tests
 * can run two processes as two hosts against one repository.
 */
export function hostName(): string {
  return process.env.VMBAK_HOSTNAME || hostname();
}

export function currentProcessOwner(): ProcessOwner {
  return { host: hostName(), pid: process.pid, pidStartTicks: processStartTicks(process.pid) };
}

/** 'alive', 'dead' (same host, pid gone or reused) or 'foreign' (another host: we cannot tell). */
export function ownerStatus(owner: ProcessOwner): 'alive' | 'dead' | 'foreign' {
  if (owner.host !== hostName()) return 'foreign';
  const ticks = processStartTicks(owner.pid);
  if (ticks === null) return 'dead';
  if (owner.pidStartTicks !== null && ticks !== owner.pidStartTicks) return 'dead';
  return 'alive';
}
