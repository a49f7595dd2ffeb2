// vmbak copy: backups from one repository into another (an offsite copy), on any targets.
// Only chunks the destination lacks travel; a rerun after an interruption resumes; backups the
// destination already holds are skipped. The work is the copy service's (planBackupCopy,
// copyBackups).

import type { Command } from 'commander';
import { VmbakError, formatBytes, formatDuration, formatRate } from '../../core/index.ts';
import { copyBackups, newProgress, planBackupCopy, type CopiedBackup, type CopySelection, type Manifest } from '../../services/index.ts';
import type { Repository } from '../../repository/index.ts';
import { abortOnSignals, openRepositoryWith } from '../context.ts';
import { startProgressBar } from '../progress-bar.ts';

interface CopyCliOptions {
  from?: string;
  to?: string;
  fromPassphraseFile?: string;
  toPassphraseFile?: string;
  vm?: string;
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
  progress: boolean;
}

export function registerCopyCommand(program: Command): void {
  program.command('copy')
    .description('copy backups into another repository (only missing chunks travel; reruns resume)')
    .argument('[backups...]', 'backup ids, latest or VM@latest in the source repository')
    .option('--from <location>', 'source repository path or URL')
    .option('--to <location>', 'destination repository path or URL')
    .option('--from-passphrase-file <file>', 'source passphrase (default: $VMBAK_FROM_PASSPHRASE, $VMBAK_PASSPHRASE, or a prompt)')
    .option('--to-passphrase-file <file>', 'destination passphrase (default: $VMBAK_TO_PASSPHRASE, $VMBAK_PASSPHRASE, or a prompt)')
    .option('--vm <name>', 'every backup of this VM (name or UUID)')
    .option('--all', 'every backup in the source repository')
    .option('--dry-run', 'print what would be copied, copy nothing')
    .option('--json', 'print one JSON line per backup')
    .option('--no-progress', 'no progress bar')
    .action(async (refs: string[], opts: CopyCliOptions) => {
      if (!opts.from || !opts.to) throw new VmbakError('USAGE', { detail: 'copy needs --from REPO and --to REPO' });
      const modes = [refs.length > 0, opts.vm !== undefined, opts.all === true].filter(Boolean).length;
      if (modes !== 1) throw new VmbakError('USAGE', { detail: 'copy needs exactly one of: backup ids, --vm NAME, --all' });
      const from = await openRepositoryWith(opts.from, opts.fromPassphraseFile, 'VMBAK_FROM_PASSPHRASE');
      const to = await openRepositoryWith(opts.to, opts.toPassphraseFile, 'VMBAK_TO_PASSPHRASE');
      const signal = abortOnSignals();
      const selection: CopySelection = refs.length > 0 ? { backups: refs } : opts.vm !== undefined ? { vm: opts.vm } : { all: true };
      const plan = await planBackupCopy(from, to, selection);
      if (opts.dryRun) {
        for (const i of plan.items) printLine(opts.json === true, i.presentAs ? skippedLine(i.manifest, i.presentAs) : { sourceBackupId: i.manifest.backupId, vm: i.manifest.vm.name, wouldCopy: true });
        return;
      }
      const progress = newProgress(Date.now());
      const stopBar = startProgressBar(progress, `copy to ${to.displayUrl}`, opts.progress && !opts.json);
      try {
        await copyBackups(plan, {
          signal, progress,
          onCopied: (c) => { stopBar(); printLine(opts.json === true, copiedJson(c, from, to)); },
        }).finally(stopBar);
      } finally {
        await Promise.all([from.target.close(), to.target.close()]);
      }
    });
}

function copiedJson(c: CopiedBackup, from: Repository, to: Repository): Record<string, unknown> {
  return { ...c, from: from.displayUrl, to: to.displayUrl };
}

function skippedLine(m: Manifest, presentAs: string): Record<string, unknown> {
  return { sourceBackupId: m.backupId, backupId: presentAs, vm: m.vm.name, skipped: true };
}

function printLine(json: boolean, line: Record<string, unknown>): void {
  if (json) { process.stdout.write(`${JSON.stringify(line)}\n`); return; }
  const l = line as Partial<CopiedBackup> & { wouldCopy?: boolean; to?: string };
  if (l.wouldCopy) process.stdout.write(`would copy ${l.sourceBackupId} of ${l.vm}\n`);
  else if (l.skipped) process.stdout.write(`${l.sourceBackupId} of ${l.vm} is already there as ${l.backupId}\n`);
  else {
    process.stdout.write(`copied ${l.sourceBackupId} of ${l.vm} to ${l.to} as ${l.backupId}: read ${formatBytes(l.bytesRead!)}, `
      + `sent ${formatBytes(l.bytesSent!)} (stored ${formatBytes(l.bytesStored!)}), read back ${formatBytes(l.bytesVerified!)} `
      + `in ${formatDuration(l.durationMs!)} (${formatRate(l.bytesRead!, l.durationMs!)})\n`);
  }
}
