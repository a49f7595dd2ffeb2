// Instant recovery: a VM that runs from a backup before any of it is restored. Its disks are
// local overlays whose backing stores are NBD exports of the backup (served by a process of
// its own, see instant-serve.ts), so starting it costs the same for any disk size; guest
// writes stay in the overlays. `migrate` copies the rest into the overlays while it runs, after
// which the VM no longer needs the repository.
//
// Ordering that keeps a crash harmless: the record is written before the export, the overlays
// or the VM exist, and removed only after all of them are gone (stop) or no longer needed
// (migrate: the VM's definition is checked to name the socket no more) — so whatever a crash
// leaves, a record names it, and `instant stop` or the sweep removes it.

import { mkdir, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmbakError, isVmbakError, type Hypervisor } from '../core/index.ts';
import { currentProcessOwner, ownerStatus } from '../host/index.ts';
import type { Manifest } from '../repository/index.ts';
import {
  instantPaths, liveServerPid, readInstantRecord, readInstantRecords, readInstantStatus, removeInstantRecord, writeInstantRecord,
  type InstantRecord, type InstantStatus,
} from './instant-records.ts';

/** Unix socket paths are limited to 107 bytes (sun_path). */
const MAX_SOCKET_PATH_BYTES = 107;
const RESUME_TIMEOUT_MS = 60_000;
const SERVER_STOP_TIMEOUT_MS = 10_000;

/** Starts the detached serving process of a recorded VM and resolves once it serves. */
export type InstantServerStarter = (vmName: string) => Promise<void>;

export interface InstantStartRequest {
  readonly hypervisor: Hypervisor;
  readonly stateDir: string;
  readonly backup: Manifest;
  /** The repository location, recorded for a restart of the export. */
  readonly repo: string;
  readonly newName: string;
  readonly poolDir?: string;
  readonly noNetwork: boolean;
  readonly start: boolean;
  readonly startServer: InstantServerStarter;
}

export interface InstantStarted {
  readonly uuid: string;
  readonly record: InstantRecord;
}

export async function startInstantRecovery(req: InstantStartRequest): Promise<InstantStarted> {
  const { backup: manifest, hypervisor, stateDir, newName } = req;
  if (!manifest.domainXml) throw new VmbakError('USAGE', { detail: `backup ${manifest.backupId} holds no domain XML; serve its disks with vmbak export instead` });
  if (!/^[^/\s.][^/]*$/.test(newName)) throw new VmbakError('USAGE', { detail: `--as-vm ${JSON.stringify(newName)}: a VM name must not be empty, start with a space or a dot, or contain '/'` });
  if (readInstantRecord(stateDir, newName)) throw new VmbakError('INSTANT_EXISTS', { vm: newName });
  await refuseExistingVm(hypervisor, newName);
  const paths = instantPaths(stateDir, newName);
  if (Buffer.byteLength(paths.socket) > MAX_SOCKET_PATH_BYTES) {
    throw new VmbakError('USAGE', { detail: `socket path ${paths.socket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes: use a shorter VM name or VMBAK_STATE_DIR` });
  }
  const poolDir = req.poolDir ?? hypervisor.defaultRestoreDir(newName);
  const overlays = manifest.disks.map((d) => ({ disk: d.name, path: join(poolDir, `${d.name}.qcow2`), sizeBytes: d.sizeBytes }));
  for (const o of overlays) if (await exists(o.path)) throw new VmbakError('OUTPUT_EXISTS', { path: o.path });
  const createdPoolDir = await exists(poolDir) ? null : poolDir;
  const record: InstantRecord = {
    kind: 'vmbak-instant', vmName: newName, backupId: manifest.backupId, sourceVm: manifest.vm.name, repo: req.repo,
    socketPath: paths.socket, overlays, createdPoolDir, createdAt: new Date().toISOString(), creator: currentProcessOwner(),
  };
  // QEMU (another user) must reach the socket: the directory is traversable, the socket is QEMU's own.
  await mkdir(paths.dir, { recursive: true, mode: 0o755 });
  writeInstantRecord(stateDir, record);
  try {
    await req.startServer(newName);
    await mkdir(poolDir, { recursive: true });
    for (const o of overlays) await hypervisor.instant.createOverlay(o.path, paths.socket, o.disk, o.sizeBytes);
    const stateFiles = manifest.stateFiles.map((f) => ({ name: f.name, data: Buffer.from(f.dataBase64, 'base64') }));
    const nvramPath = stateFiles.some((f) => f.name.startsWith('nvram/')) ? join(poolDir, `${newName}_VARS.fd`) : null;
    const defined = await hypervisor.defineVm({
      definition: manifest.domainXml, newName, diskPaths: new Map(overlays.map((o) => [o.disk, o.path])), noNetwork: req.noNetwork,
      nvramPath, stateFiles, start: req.start, pauseOnIoError: true,
    });
    return { uuid: defined.uuid, record };
  } catch (err) {
    // Nothing half-made stays behind. defineVm undoes its own part, and a VM of that name that
    // appeared meanwhile is not ours to remove; the record goes last, so a crash here leaves it for stop/sweep.
    await removeInstantVm(hypervisor, stateDir, record, false).catch(() => undefined);
    throw err;
  }
}

export interface InstantVmInfo {
  readonly record: InstantRecord;
  /** The serving process's pid while it runs, else null (killed: the VM pauses on its next read of the backup). */
  readonly serverPid: number | null;
  readonly status: InstantStatus | null;
  /** 'missing' when the VM is no longer defined. */
  readonly vmState: string;
}

export async function listInstantVms(hypervisor: Hypervisor, stateDir: string): Promise<InstantVmInfo[]> {
  const out: InstantVmInfo[] = [];
  for (const record of readInstantRecords(stateDir)) {
    const status = readInstantStatus(stateDir, record.vmName);
    const run = await hypervisor.instant.vmRunState(record.vmName);
    out.push({ record, serverPid: liveServerPid(status), status, vmState: run ? `${run.state}${run.reason ? ` (${run.reason})` : ''}` : 'missing' });
  }
  return out;
}

export function requireInstantRecord(stateDir: string, vmName: string): InstantRecord {
  const record = readInstantRecord(stateDir, vmName);
  if (!record) throw new VmbakError('INSTANT_NOT_FOUND', { vm: vmName });
  return record;
}

/** Restarts the export when its process is gone, then resumes the VM if it is paused (on the export's I/O errors or a lost lease). */
export async function resumeInstantVm(hypervisor: Hypervisor, stateDir: string, vmName: string, startServer: InstantServerStarter): Promise<{ restarted: boolean; resumed: boolean }> {
  requireInstantRecord(stateDir, vmName);
  const restarted = liveServerPid(readInstantStatus(stateDir, vmName)) === null;
  if (restarted) await startServer(vmName);
  const run = await hypervisor.instant.vmRunState(vmName);
  if (!run) throw new VmbakError('VM_NOT_FOUND', { pattern: vmName, uri: hypervisor.location });
  if (run.state !== 'paused') return { restarted, resumed: false };
  await hypervisor.instant.resumeVm(vmName, RESUME_TIMEOUT_MS);
  return { restarted, resumed: true };
}

/** Moves the VM onto its overlays alone while it runs; then the export stops and the record goes. */
export async function migrateInstantVm(hypervisor: Hypervisor, stateDir: string, vmName: string, onProgress: (disk: string, fraction: number) => void): Promise<void> {
  const record = requireInstantRecord(stateDir, vmName);
  if (liveServerPid(readInstantStatus(stateDir, vmName)) === null) {
    throw new VmbakError('INSTANT_SERVER_FAILED', { vm: vmName, detail: 'is not running; start it with vmbak instant resume first', log: instantPaths(stateDir, vmName).log });
  }
  const run = await hypervisor.instant.vmRunState(vmName);
  if (!run) throw new VmbakError('VM_NOT_FOUND', { pattern: vmName, uri: hypervisor.location });
  if (run.state !== 'running' && run.state !== 'paused') {
    // blockpull is a job of the running QEMU.
    throw new VmbakError('INSTANT_MIGRATE_FAILED', { vm: vmName, detail: `it is ${run.state}; start it first (virsh start ${vmName})` });
  }
  await hypervisor.instant.pullIntoOverlays(vmName, record.overlays.map((o) => o.disk), onProgress);
  // The export may stop only once nothing of the VM reads from it any more.
  if (await hypervisor.instant.referencesSocket(vmName, record.socketPath)) {
    throw new VmbakError('INSTANT_MIGRATE_FAILED', { vm: vmName, detail: `its definition still names the export socket ${record.socketPath}` });
  }
  await stopServer(stateDir, vmName);
  await rm(instantPaths(stateDir, vmName).dir, { recursive: true, force: true });
  removeInstantRecord(stateDir, vmName);
}

/** Destroys and undefines the VM, removes its overlays and stops its export. */
export async function stopInstantVm(hypervisor: Hypervisor, stateDir: string, vmName: string): Promise<void> {
  await removeInstantVm(hypervisor, stateDir, requireInstantRecord(stateDir, vmName));
}

async function removeInstantVm(hypervisor: Hypervisor, stateDir: string, record: InstantRecord, vmIsOurs = true): Promise<void> {
  if (vmIsOurs) await hypervisor.instant.removeVm(record.vmName);
  await stopServer(stateDir, record.vmName);
  for (const o of record.overlays) await rm(o.path, { force: true });
  if (record.createdPoolDir) await rmdir(record.createdPoolDir).catch(() => undefined);
  await rm(instantPaths(stateDir, record.vmName).dir, { recursive: true, force: true });
  removeInstantRecord(stateDir, record.vmName);
}

export interface SweptInstantVm {
  readonly vmName: string;
  /** What was done, or why the record stays. */
  readonly outcome: string;
}

/**
 * What a crash left of instant recovery: a record whose VM is gone (removed outside vmbak, or a
 * start that died half-way) has its export stopped and overlays removed. A VM whose export
 * died is kept (it is paused, not broken) and reported: `vmbak instant resume` brings it back.
 */
export async function sweepInstantLeftovers(hypervisor: Hypervisor, stateDir: string): Promise<SweptInstantVm[]> {
  const out: SweptInstantVm[] = [];
  for (const record of readInstantRecords(stateDir)) {
    // A start still under way owns its record: its VM may not be defined yet.
    if (ownerStatus(record.creator) === 'alive') continue;
    const status = readInstantStatus(stateDir, record.vmName);
    const run = await hypervisor.instant.vmRunState(record.vmName);
    if (!run) {
      await removeInstantVm(hypervisor, stateDir, record);
      out.push({ vmName: record.vmName, outcome: 'VM gone: export stopped, overlays and record removed' });
    } else if (liveServerPid(status) === null) {
      out.push({ vmName: record.vmName, outcome: `export not running (VM ${run.state}); run vmbak instant resume ${record.vmName} or vmbak instant stop ${record.vmName}` });
    }
  }
  return out;
}

export function describeInstantLeftover(s: SweptInstantVm): string {
  return `instant-recovery VM ${s.vmName}: ${s.outcome}`;
}

/** SIGTERM, then SIGKILL if it lingers; returns once the process is gone. */
async function stopServer(stateDir: string, vmName: string): Promise<void> {
  const status = readInstantStatus(stateDir, vmName);
  const pid = liveServerPid(status);
  if (pid === null || !status) return;
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + SERVER_STOP_TIMEOUT_MS;
  while (ownerStatus(status.owner) === 'alive') {
    if (Date.now() > deadline) { signal(pid, 'SIGKILL'); await sleep(200); break; }
    await sleep(100);
  }
  await rm(instantPaths(stateDir, vmName).socket, { force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try { process.kill(pid, sig); } catch { /* already gone */ }
}

async function refuseExistingVm(hypervisor: Hypervisor, name: string): Promise<void> {
  const found = await hypervisor.getVm(name).then(() => true, (err: unknown) => {
    if (isVmbakError(err, 'VM_NOT_FOUND')) return false;
    throw err;
  });
  if (found) throw new VmbakError('VM_EXISTS', { vm: name, uri: hypervisor.location });
}

function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
