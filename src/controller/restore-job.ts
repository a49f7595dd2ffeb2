// A restore job: a backup's disks into a directory on the host that runs it, or the whole VM
// defined anew there (new UUID and MACs, NVRAM and TPM state as backed up) — the restore
// service `vmbak restore` uses, every disk proven against the digest recorded at backup time.

import { VmbakError, type Hypervisor } from '../core/index.ts';
import { resolveBackupRef, restoreAsVm, restoreDisks } from '../services/index.ts';
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
}

export function restoreExecutor(deps: { readonly store: JobStore; readonly hypervisor: Hypervisor }): JobExecutor {
  return async (ctx) => {
    const p = ctx.job.params as unknown as RestoreJobParams;
    if ((p.toDir === undefined) === (p.asVm === undefined)) throw new VmbakError('USAGE', { detail: 'a restore job needs toDir or asVm' });
    return withRepository(deps.store, p.repository, async (repo) => {
      const backup = await resolveBackupRef(repo, p.backup);
      const run = { signal: ctx.signal, progress: ctx.progress };
      ctx.progress.bytesToRead = backup.disks.filter((d) => !p.disk || d.name === p.disk).reduce((s, d) => s + d.sizeBytes, 0);
      if (p.asVm) {
        const vm = await restoreAsVm({
          repo, backup, hypervisor: deps.hypervisor, newName: p.asVm, noNetwork: p.noNetwork === true, start: p.start === true, verify: true,
        }, run);
        ctx.log('info', `restored backup ${backup.backupId} of ${backup.vm.name} as VM ${p.asVm} (${vm.uuid})${p.start ? ', started' : ''}: ${vm.disks.join(', ')}`);
      } else {
        const disks = await restoreDisks({ repo, backup, toDir: p.toDir!, disk: p.disk ?? null, format: 'raw', verify: true }, run);
        for (const d of disks) ctx.log('info', `restored disk ${d.name} of backup ${backup.backupId} to ${d.path} (${d.sizeBytes} bytes, verified)`);
      }
      return { state: 'succeeded' };
    }, deps.store.alert);
  };
}
