// The serving process of one instant-recovery VM (`vmbak instant serve NAME`, started detached
// so it outlives the command that made the VM): the backup's disks over NBD on the VM's socket,
// read straight from the repository under an operation lock (a lease gc respects).
//
// Never wrong data: when the lease is lost gc may delete packs the export reads, so reads fail
// from then on (the engine's export does that) and this process also pauses the VM and records
// the alert in its status — the disks' error policy 'stop' would pause it on the first failed
// read anyway, the explicit pause makes it certain before the guest asks for anything. The
// status file carries the bytes read from packs, refreshed every second.

import { rm } from 'node:fs/promises';
import { VmbakError, describeError, type Hypervisor } from '../core/index.ts';
import { currentProcessOwner } from '../host/index.ts';
import { NbdServer } from '../nbd/index.ts';
import { resolveBackupRef, type Repository } from '../repository/index.ts';
import { openBackupExport } from './export.ts';
import { instantPaths, writeInstantStatus, type InstantRecord, type InstantStatus } from './instant-records.ts';

const STATUS_EVERY_MS = 1000;

export interface InstantServeRequest {
  readonly repo: Repository;
  readonly hypervisor: Hypervisor;
  readonly stateDir: string;
  readonly record: InstantRecord;
  /** Resolves (with the signal's name) when the process is told to stop. */
  readonly stop: Promise<string>;
  /** One line for the serving process's log. */
  readonly log: (line: string) => void;
}

/** Serves until told to stop (resolves) or until the lease is lost (pauses the VM, then throws). */
export async function serveInstantVm(req: InstantServeRequest): Promise<void> {
  const { record, stateDir } = req;
  const paths = instantPaths(stateDir, record.vmName);
  const owner = currentProcessOwner();
  let state: InstantStatus['state'] = 'starting';
  let alert: string | null = null;
  let packBytesRead = (): number => 0;
  const writeStatus = (): void => writeInstantStatus(stateDir, record.vmName, { owner, state, packBytesRead: packBytesRead(), updatedAt: new Date().toISOString(), alert });
  writeStatus();
  const manifest = await resolveBackupRef(req.repo, record.backupId);
  const session = await openBackupExport({ repo: req.repo, backup: manifest, disk: null });
  packBytesRead = session.packBytesRead;
  const server = new NbdServer({
    exports: session.exports,
    onFailure: (f) => req.log(`${f.op} of ${f.lengthBytes} bytes at offset ${f.offsetBytes} of disk ${f.exportName} failed (EIO; the VM pauses): ${describeError(f.error)}`),
  });
  const timer = setInterval(writeStatus, STATUS_EVERY_MS);
  try {
    // A socket file left by a killed server would make listen fail; no live server owns it (the caller checked).
    await rm(paths.socket, { force: true });
    await server.listen({ path: paths.socket });
    await req.hypervisor.instant.grantSocketAccess(paths.socket);
    state = 'serving';
    writeStatus();
    req.log(`serving backup ${manifest.backupId} of ${manifest.vm.name} for VM ${record.vmName} at ${paths.socket}`);
    const leaseLost = new Promise<unknown>((resolve) => {
      if (session.signal.aborted) resolve(session.signal.reason);
      else session.signal.addEventListener('abort', () => resolve(session.signal.reason), { once: true });
    });
    const why = await Promise.race([req.stop, leaseLost.then((reason) => ({ reason }))]);
    if (typeof why === 'string') {
      req.log(`stopped serving (${why})`);
      state = 'stopped';
      return;
    }
    state = 'lease-lost';
    alert = `repository lease lost (${describeError(why.reason)}): VM ${record.vmName} paused; run vmbak instant resume ${record.vmName} once the repository is reachable`;
    writeStatus();
    req.log(`ALERT: ${alert}`);
    await pauseIfRunning(req.hypervisor, record.vmName, req.log);
    throw new VmbakError('INSTANT_SERVER_FAILED', { vm: record.vmName, detail: `stopped: ${alert}`, log: paths.log });
  } finally {
    clearInterval(timer);
    await server.close().catch(() => undefined);
    await session.close().catch(() => undefined);
    await rm(paths.socket, { force: true });
    writeStatus();
  }
}

async function pauseIfRunning(hypervisor: Hypervisor, vmName: string, log: (line: string) => void): Promise<void> {
  try {
    const now = await hypervisor.instant.vmRunState(vmName);
    if (now?.state === 'running') await hypervisor.instant.pauseVm(vmName);
  } catch (err) {
    // Its disks stop it on the first failed read all the same.
    log(`cannot pause VM ${vmName}: ${describeError(err)}`);
  }
}
