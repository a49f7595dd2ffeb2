// vmbak backups ls: what the repository holds.

import type { Command } from 'commander';
import { formatBytes } from '../../core/index.ts';
import { listRepositoryBackups } from '../../services/index.ts';
import { openRepository, type RepoOptions, withRepoOptions } from '../context.ts';

export function registerBackupsCommands(program: Command): void {
  const backups = program.command('backups').description('list the backups in a repository');
  withRepoOptions(backups.command('ls'))
    .description('list backups, oldest first')
    .option('--vm <name>', 'only this VM\'s backups (name or UUID)')
    .option('--json', 'print one JSON array (see docs/cli.md)')
    .action(async (opts: RepoOptions & { vm?: string; json?: boolean }) => {
      const repo = await openRepository(opts);
      const listing = await listRepositoryBackups(repo, opts.vm || undefined);
      const shown = listing.backups;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(shown.map((m) => ({
          backupId: m.backupId, vm: m.vm.name, vmUuid: m.vm.uuid, time: m.time, consistency: m.consistency,
          incremental: m.incremental, source: m.source,
          disks: m.disks.map((d) => ({ name: d.name, sizeBytes: d.sizeBytes })),
          bytesNew: m.stats.bytesNew, bytesStored: m.stats.bytesStored,
        })))}\n`);
      } else {
        process.stdout.write(`${'ID'.padEnd(12)}${'TIME (UTC)'.padEnd(22)}${'VM'.padEnd(20)}${'KIND'.padEnd(13)}${'CONSISTENCY'.padEnd(13)}DISKS\n`);
        for (const m of shown) {
          process.stdout.write(`${m.backupId.padEnd(12)}${m.time.slice(0, 19).replace('T', ' ').padEnd(22)}${m.vm.name.padEnd(20)}`
            + `${(m.incremental ? 'incremental' : 'full read').padEnd(13)}${m.consistency.padEnd(13)}`
            + `${m.disks.map((d) => `${d.name} ${formatBytes(d.sizeBytes)}`).join(', ')}\n`);
        }
      }
      for (const d of listing.damaged) process.stderr.write(`vmbak: warning: ${d.detail}\n`);
      if (listing.damaged.length > 0) process.exitCode = 1;
    });
}
