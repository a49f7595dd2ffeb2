// A restore job: a backup's disks into a directory on the host that runs it (raw or qcow2), the
// whole VM defined anew there (new UUID and MACs, NVRAM and TPM state as backed up), or over
// the original VM — the restore service `vmbak restore` uses, every disk proven against the
// digest recorded at backup time. In place needs the VM's name typed as confirmation, checked
// here as well as by the API: a job queued by any other way is held to the same rule.

import { join } from 'node:path';
import { VmbakError, type Hypervisor } from '../core/index.ts';
import { hostName } from '../host/index.ts';
import { executeRestoreInPlace, planRestoreInPlace, resolveBackupRef, restoreAsVm, restoreDisks } from '../services/index.ts';
import { withRepository } from './repositories.ts';
import type { JobExecutor } from './job-runner.ts';
import type { JobStore } from './job-store.ts';

export interface RestoreJobParams {
  readonly repository: string;
  readonly backup: string;
  readonly toDir?: string;
  readonly asVm?: string;
  readonly disk?: string;
  readonly start?: boolean;
  readonly noNetwork?: boolean;
  readonly format?: 'raw' | 'qcow2';
  readonly inPlace?: boolean;
  readonly confirmVmName?: string;
  /** toDir is in the controller's downloads directory, for GET /jobs/{id}/download. */
  readonly download?: boolean;
  /** The host to restore on (agents: the job goes to its queue). */
  readonly host?: string;
  /** With asVm: a directory storage pool of that host for the disks. */
  readonly pool?: string;
}

/** Where a new VM's disks go: a folder named after it in the storage pool asked for, or the hypervisor's default. */
async function newVmDir(hypervisor: Hypervisor, p: RestoreJobParams): Promise<string | undefined> {
  if (!p.pool) return undefined;
  const host = hostName();
  const pool = (await hypervisor.listStoragePools()).find((sp) => sp.name === p.pool);
  if (!pool) throw new VmbakError('STORAGE_POOL_UNUSABLE', { pool: p.pool, host, detail: 'no such pool' });
  if (!pool.path) throw new VmbakError('STORAGE_POOL_UNUSABLE', { pool: p.pool, host, detail: `a ${pool.type} pool is not a directory` });
  if (!pool.active) throw new VmbakError('STORAGE_POOL_UNUSABLE', { pool: p.pool, host, detail: 'it is not active (virsh pool-start)' });
  return join(pool.path, p.asVm!);
}

const modeCount = (p: RestoreJobParams): number => [p.toDir !== undefined, p.asVm !== undefined, p.inPlace === true].filter(Boolean).length;

/**
 * Restores where this process runs. Without a hypervisor (a controller whose agents run on the
 * hosts) only disks into a directory: the controller's own downloads, since what a browser
 * downloads passes through the controller anyway.
 */
export function restoreExecutor(deps: { readonly store: JobStore; readonly hypervisor: Hypervisor | null }): JobExecutor {
  return async (ctx) => {
    const p = ctx.job.params as unknown as RestoreJobParams;
    if (modeCount(p) !== 1) throw new VmbakError('USAGE', { detail: 'a restore job needs one of toDir, asVm and inPlace' });
    const hypervisor = deps.hypervisor;
    if (!hypervisor && p.toDir === undefined) throw new VmbakError('USAGE', { detail: 'this controller restores only disks for download; VMs are restored by the agents on the hosts' });
    return withRepository(deps.store, p.repository, async (repo) => {
      const backup = await resolveBackupRef(repo, p.backup);
      const run = { signal: ctx.signal, progress: ctx.progress };
      ctx.progress.bytesToRead = backup.disks.filter((d) => !p.disk || d.name === p.disk).reduce((s, d) => s + d.sizeBytes, 0);
      if (p.inPlace) {
        if (p.confirmVmName !== backup.vm.name) {
          throw new VmbakError('CONFIRMATION_MISMATCH', { what: 'an in-place restore', vm: backup.vm.name, given: p.confirmVmName ?? '' });
        }
        const { plan, question } = await planRestoreInPlace(backup, hypervisor!);
        ctx.log('info', `in place, confirmed by name: ${question}`);
        const paths = await executeRestoreInPlace({ repo, backup, hypervisor: hypervisor!, plan, verify: true }, run);
        ctx.log('info', `restored backup ${backup.backupId} over VM ${backup.vm.name}: ${paths.join(', ')}`);
      } else if (p.asVm) {
        const poolDir = await newVmDir(hypervisor!, p);
        const vm = await restoreAsVm({
          repo, backup, hypervisor: hypervisor!, newName: p.asVm, poolDir, noNetwork: p.noNetwork === true, start: p.start === true, verify: true,
        }, run);
        ctx.log('info', `restored backup ${backup.backupId} of ${backup.vm.name} as VM ${p.asVm} (${vm.uuid})${p.start ? ', started' : ''}: ${vm.disks.join(', ')}`);
      } else {
        const disks = await restoreDisks({ repo, backup, toDir: p.toDir!, disk: p.disk ?? null, format: p.format ?? 'raw', verify: true }, run);
        for (const d of disks) ctx.log('info', `restored disk ${d.name} of backup ${backup.backupId} to ${d.path} (${d.sizeBytes} bytes, verified)`);
      }
      return { state: 'succeeded' };
    }, deps.store.alert);
  };
}
