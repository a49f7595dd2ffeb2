// vmbak verify | prune | gc | check: keeping a repository healthy. The command parses and
// prints; the work and what counts as a failure are the services'.

import type { Command } from 'commander';
import { VmbakError, formatBytes } from '../../core/index.ts';
import {
  checkRepositoryHealth, executeRepositoryPrune, newProgress, planRepositoryPrune, runGc, verifyRepository, type RetentionPolicy,
} from '../../services/index.ts';
import { abortOnSignals, openRepository, type RepoOptions, withRepoOptions } from '../context.ts';
import { startProgressBar } from '../progress-bar.ts';

const count = (flag: string) => (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new VmbakError('USAGE', { detail: `${flag} ${value}: give a whole number` });
  return n;
};

export function registerCareCommands(program: Command): void {
  withRepoOptions(program.command('verify'))
    .description('re-read and authenticate every chunk the backups need (all backups by default)')
    .argument('[backups...]', 'backup ids, latest or VM@latest')
    .option('--json', 'print the problems as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (refs: string[], opts: RepoOptions & { json?: boolean; progress: boolean }) => {
      const repo = await openRepository(opts);
      const signal = abortOnSignals();
      const progress = newProgress(Date.now());
      const stopBar = startProgressBar(progress, 'verify', opts.progress && !opts.json);
      const result = await verifyRepository(repo, refs, { signal, progress }).finally(stopBar);
      if (opts.json) process.stdout.write(`${JSON.stringify({ backups: result.backupsChecked, bytesChecked: result.bytesChecked, problems: result.problems })}\n`);
      else {
        for (const p of result.problems) process.stdout.write(`${p.message}\n`);
        process.stdout.write(`verified ${result.backupsChecked} backup(s), ${formatBytes(result.bytesChecked)} of chunk data: ${result.problems.length === 0 ? 'no problems' : `${result.problems.length} problem(s)`}\n`);
      }
      if (result.failure) throw result.failure;
    });

  withRepoOptions(program.command('prune'))
    .description('delete backups the retention rules do not keep (per VM); run gc afterwards to free space')
    .option('--keep-last <n>', 'keep the newest N', count('--keep-last'))
    .option('--keep-hourly <n>', 'keep the newest backup of each of the last N hours that have one', count('--keep-hourly'))
    .option('--keep-daily <n>', 'same per day', count('--keep-daily'))
    .option('--keep-weekly <n>', 'same per ISO week', count('--keep-weekly'))
    .option('--keep-monthly <n>', 'same per month', count('--keep-monthly'))
    .option('--keep-yearly <n>', 'same per year', count('--keep-yearly'))
    .option('--vm <name>', 'prune only this VM\'s backups')
    .option('--dry-run', 'print the plan, delete nothing')
    .option('--json', 'print the plan as JSON')
    .action(async (opts: RepoOptions & RetentionPolicy & { vm?: string; dryRun?: boolean; json?: boolean }) => {
      const repo = await openRepository(opts);
      const plan = await planRepositoryPrune(repo, retentionOf(opts), opts.vm || undefined);
      if (!opts.dryRun) await executeRepositoryPrune(repo, plan);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ dryRun: opts.dryRun === true, keep: plan.keep.map((k) => ({ backupId: k.manifest.backupId, vm: k.manifest.vm.name, time: k.manifest.time, reasons: k.reasons })), remove: plan.remove.map((m) => ({ backupId: m.backupId, vm: m.vm.name, time: m.time })) })}\n`);
      } else {
        for (const k of plan.keep) process.stdout.write(`keep   ${k.manifest.backupId} ${k.manifest.vm.name} ${k.manifest.time} (${k.reasons.join(', ')})\n`);
        for (const m of plan.remove) process.stdout.write(`${opts.dryRun ? 'would remove' : 'remove'} ${m.backupId} ${m.vm.name} ${m.time}\n`);
        process.stdout.write(`${opts.dryRun ? 'dry run: ' : ''}${plan.keep.length} kept, ${plan.remove.length} ${opts.dryRun ? 'to remove' : 'removed'}${plan.remove.length && !opts.dryRun ? '; run `vmbak gc` to free their space' : ''}\n`);
      }
    });

  withRepoOptions(program.command('gc'))
    .description('delete data no backup refers to (safe while backups run)')
    .option('--dry-run', 'report, delete nothing')
    .option('--json', 'print the report as JSON')
    .action(async (opts: RepoOptions & { dryRun?: boolean; json?: boolean }) => {
      const repo = await openRepository(opts);
      const report = await runGc(repo, { dryRun: opts.dryRun === true });
      if (opts.json) { process.stdout.write(`${JSON.stringify(report)}\n`); return; }
      const verb = report.dryRun ? 'would delete' : 'deleted';
      process.stdout.write(`${verb} ${report.packsDeleted} pack(s), repacked ${report.packsRepacked}, freed ${formatBytes(report.bytesFreed)}; `
        + `removed ${report.orphanObjectsDeleted} orphan index object(s) and ${report.staleLocksRemoved} stale lock(s)\n`);
      if (report.deferredBecause) process.stdout.write(`${report.packsCondemned} unreferenced pack(s) kept for a later gc: ${report.deferredBecause}\n`);
    });

  withRepoOptions(program.command('check'))
    .description('check the repository\'s structure: packs, indexes, manifests')
    .option('--read-data', 'also read every pack and check it against its id')
    .option('--json', 'print the report as JSON')
    .action(async (opts: RepoOptions & { readData?: boolean; json?: boolean }) => {
      const repo = await openRepository(opts);
      const { report, failure } = await checkRepositoryHealth(repo, { readData: opts.readData === true });
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        for (const e of report.errors) process.stdout.write(`error: ${e}\n`);
        for (const w of report.warnings) process.stdout.write(`warning: ${w}\n`);
        process.stdout.write(`checked ${report.packsChecked} pack(s) and ${report.backupsChecked} backup(s): ${report.errors.length} error(s), ${report.warnings.length} warning(s)\n`);
      }
      if (failure) throw failure;
    });
}

function retentionOf(opts: RetentionPolicy): RetentionPolicy {
  const { keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly } = opts;
  return { keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly };
}
