// The command-line side of `restore --instant --as-vm NAME`: the VM runs from the backup at once
// (its disks are overlays over the backup's NBD exports, served by a detached process), and
// with --migrate is then moved to local storage while it runs. The work is the services'.

import { VmbakError } from '../core/index.ts';
import { defaultStateDir } from '../host/index.ts';
import { connectHypervisor, resolveBackupRef, startInstantRecovery } from '../services/index.ts';
import { runMigrate } from './commands/instant.ts';
import { openRepository, repoLocation } from './context.ts';
import { instantServerStarter } from './instant-server.ts';
import type { VmRestoreCliOptions } from './restore-vm.ts';

export async function runInstantRestore(ref: string, opts: VmRestoreCliOptions & { migrate?: boolean }): Promise<void> {
  if (!opts.asVm) throw new VmbakError('USAGE', { detail: '--instant needs --as-vm NAME' });
  if (opts.verify) throw new VmbakError('USAGE', { detail: '--instant restores nothing to verify; run vmbak verify on the backup instead' });
  const stateDir = defaultStateDir();
  const hypervisor = connectHypervisor({ uri: opts.connect, stateDir });
  const repo = await openRepository(opts);
  let started;
  try {
    const manifest = await resolveBackupRef(repo, ref);
    const start = opts.start === true || opts.migrate === true;
    started = await startInstantRecovery({
      hypervisor, stateDir, backup: manifest, repo: repoLocation(opts), newName: opts.asVm, poolDir: opts.poolDir,
      noNetwork: !opts.network, start, startServer: instantServerStarter(opts, stateDir),
    });
    const r = started.record;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ backupId: r.backupId, vm: r.vmName, uuid: started.uuid, instant: true, started: start, socket: r.socketPath, overlays: r.overlays.map((o) => o.path) })}\n`);
    } else {
      process.stdout.write(`VM ${r.vmName} (${started.uuid}) runs from backup ${r.backupId} of ${r.sourceVm}${start ? '' : ' (defined, not started)'}; `
        + `overlays ${r.overlays.map((o) => o.path).join(', ')}; move it to local storage with vmbak instant migrate ${r.vmName}\n`);
    }
  } finally {
    // The detached export has its own connection to the repository.
    await repo.target.close();
  }
  if (opts.migrate) await runMigrate(hypervisor, stateDir, opts.asVm, opts.progress && !opts.json);
}
