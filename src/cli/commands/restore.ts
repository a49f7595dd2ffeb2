// vmbak restore: a backup's disks into a directory as sparse raw or qcow2 images, or the whole
// VM as a new libvirt VM (--as-vm) or over the original one (--in-place).

import type { Command } from 'commander';
import { VmbakError, formatBytes, formatDuration, formatRate } from '../../core/index.ts';
import { newProgress, prestartWorkers, resolveBackupRef, restoreDisks } from '../../services/index.ts';
import { abortOnSignals, openRepository, withRepoOptions } from '../context.ts';
import { startProgressBar } from '../progress-bar.ts';
import { runInstantRestore } from '../restore-instant.ts';
import { runVmRestore, type VmRestoreCliOptions } from '../restore-vm.ts';

interface RestoreOptions extends VmRestoreCliOptions {
  instant?: boolean;
  migrate?: boolean;
  to?: string;
  disk?: string;
  format: string;
}

export function registerRestoreCommand(program: Command): void {
  withRepoOptions(program.command('restore'))
    .description('restore a backup\'s disks as DIR/<disk>.<raw|qcow2>')
    .argument('<backup>', 'backup id (or a unique prefix), latest, or VM@latest')
    .option('--to <dir>', 'directory to write the disk images into')
    .option('--disk <name>', 'restore only this disk')
    .option('--format <format>', 'raw or qcow2', 'raw')
    .option('--verify', 'check each restored disk against the digest recorded at backup time')
    .option('--json', 'print the result as JSON')
    .option('--as-vm <name>', 'define a new libvirt VM from the backup (new UUID and MACs, disks as qcow2 in --pool-dir)')
    .option('--pool-dir <dir>', 'with --as-vm: where the disks go (default /var/lib/libvirt/images/NAME)')
    .option('--no-network', 'with --as-vm: leave out the network interfaces')
    .option('--start', 'with --as-vm: start the new VM')
    .option('--instant', 'with --as-vm: run the VM straight from the backup (local overlays over NBD exports of it), restoring nothing first')
    .option('--migrate', 'with --instant: start the VM, then move it to local storage while it runs (vmbak instant migrate)')
    .option('--in-place', 'restore over the original VM\'s disks (it must be shut off)')
    .option('--yes', 'with --in-place: do not ask for confirmation')
    .option('--connect <uri>', 'libvirt connection URI (default: $VMBAK_CONNECT or qemu:///system)')
    .option('--no-progress', 'no progress bar')
    .action(async (ref: string, opts: RestoreOptions) => {
      const modes = [opts.to !== undefined, opts.asVm !== undefined, opts.inPlace === true].filter(Boolean).length;
      if (modes !== 1) throw new VmbakError('USAGE', { detail: 'restore needs exactly one of --to DIR, --as-vm NAME, --in-place' });
      if (opts.migrate && !opts.instant) throw new VmbakError('USAGE', { detail: '--migrate goes with --instant' });
      if (opts.instant) return runInstantRestore(ref, opts);
      prestartWorkers();
      if (opts.asVm || opts.inPlace) return runVmRestore(ref, opts);
      if (!opts.to) throw new VmbakError('USAGE', { detail: 'restore needs --to DIR' });
      if (opts.format !== 'raw' && opts.format !== 'qcow2') throw new VmbakError('USAGE', { detail: `--format ${opts.format}: give raw or qcow2` });
      const repo = await openRepository(opts);
      const signal = abortOnSignals();
      const manifest = await resolveBackupRef(repo, ref);
      const progress = newProgress(Date.now());
      const stopBar = startProgressBar(progress, `restore ${manifest.backupId}`, opts.progress && !opts.json);
      try {
        const disks = await restoreDisks({ repo, backup: manifest, toDir: opts.to, disk: opts.disk ?? null, format: opts.format, verify: opts.verify === true }, { signal, progress })
          .finally(stopBar);
        const durationMs = Date.now() - progress.startedMs;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ backupId: manifest.backupId, vm: manifest.vm.name, durationMs, disks })}\n`);
        } else {
          for (const d of disks) process.stdout.write(`restored ${d.name} (${formatBytes(d.sizeBytes)}) to ${d.path}${d.verified ? ', verified' : ''}\n`);
          process.stdout.write(`restored backup ${manifest.backupId} of ${manifest.vm.name}: ${formatBytes(progress.bytesRead)} of data in ${formatDuration(durationMs)} (${formatRate(progress.bytesRead, durationMs)})\n`);
        }
      } finally {
        await repo.target.close();
      }
    });
}
