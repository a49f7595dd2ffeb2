// vmbak index BACKUP and vmbak files find PATTERN: build a backup's file index (stored in the
// repository beside its manifest) and search the indexes for which backups hold a file, in
// which versions.

import type { Command } from 'commander';
import { VmbakError, formatDuration, parseDuration, parseSize } from '../../core/index.ts';
import { DEFAULT_WALK_LIMITS, findInRepository, indexBackup, type FoundFile } from '../../files/index.ts';
import { resolveBackupRef } from '../../services/index.ts';
import { openRepository, withRepoOptions, type RepoOptions } from '../context.ts';

interface IndexOptions extends RepoOptions { full?: boolean; hashLimit?: string; maxEntries?: string; maxDepth?: string; timeout?: string; json?: boolean }
interface FindOptions extends RepoOptions { vm?: string; since?: string; json?: boolean }

export function registerIndexCommand(program: Command): void {
  withRepoOptions(program.command('index'))
    .description('list every file of a backup into its file index (in the repository), reusing the previous index for unchanged filesystems')
    .argument('<backup>', 'backup id (or a unique prefix), latest, or VM@latest')
    .option('--full', 'walk every filesystem, even those whose blocks did not change')
    .option('--hash-limit <size>', 'SHA-256 of regular files up to this size (0: none)', '1M')
    .option('--max-entries <n>', 'refuse a filesystem with more entries (hostile guests)', String(DEFAULT_WALK_LIMITS.maxEntries))
    .option('--max-depth <n>', 'refuse a filesystem nested deeper', String(DEFAULT_WALK_LIMITS.maxDepth))
    .option('--timeout <duration>', 'stop the appliance when one filesystem takes longer', '2h')
    .option('--json', 'print one JSON object')
    .action(async (ref: string, opts: IndexOptions) => {
      const hashLimitBytes = parseSize(opts.hashLimit ?? '1M');
      if (hashLimitBytes === null) throw new VmbakError('USAGE', { detail: `--hash-limit ${opts.hashLimit}: give a size such as 1M` });
      const maxEntries = Number(opts.maxEntries);
      const maxDepth = Number(opts.maxDepth);
      const timeoutMs = parseDuration(opts.timeout ?? '2h');
      if (!Number.isInteger(maxEntries) || maxEntries < 1 || !Number.isInteger(maxDepth) || maxDepth < 1 || timeoutMs === null) {
        throw new VmbakError('USAGE', { detail: '--max-entries and --max-depth take a positive whole number, --timeout a duration (30m)' });
      }
      const repo = await openRepository(opts);
      try {
        const backup = await resolveBackupRef(repo, ref);
        const r = await indexBackup({ repo, backup, full: opts.full ?? false, limits: { hashLimitBytes, maxEntries, maxDepth, timeoutMs } });
        const fss = r.index.header.filesystems;
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({
            backupId: backup.backupId, vm: backup.vm.name, baseBackupId: r.baseBackupId, walked: r.walked, reused: r.reused,
            launchMs: r.launchMs, durationMs: r.durationMs,
            filesystems: fss.map((f) => ({ id: f.id, type: f.type, entries: f.entryCount, reusedFrom: f.reusedFrom, error: f.error, warnings: f.warnings ?? [], extents: f.extents ?? null, extentDigest: f.extentDigest ?? null })),
          })}\n`);
        } else {
          for (const f of fss) {
            const how = f.error !== null ? `not indexed: ${f.error}` : f.reusedFrom !== null ? `${f.entryCount} entries, unchanged since ${f.reusedFrom}` : `${f.entryCount} entries, walked`;
            process.stdout.write(`${f.id} ${f.type}: ${how}\n`);
          }
          process.stdout.write(`indexed backup ${backup.backupId} of ${backup.vm.name} in ${formatDuration(r.durationMs)}\n`);
        }
        for (const f of fss.filter((x) => x.error !== null && !/swap|LUKS|no filesystem/.test(x.error))) process.stderr.write(`vmbak: warning: ${f.id}: ${f.error}\n`);
        for (const f of fss) for (const w of f.warnings ?? []) process.stderr.write(`vmbak: warning: ${f.id}: ${w}\n`);
      } finally {
        await repo.target.close();
      }
    });
}

export function registerFindCommand(files: Command): void {
  withRepoOptions(files.command('find'))
    .description('which backups hold a file (by name or glob), in which versions (size, mtime, SHA-256); reads the file indexes only')
    .argument('<pattern>', 'file name or glob (* ?), matched against the whole path when it holds a /')
    .option('--vm <vm>', 'only backups of this VM (name or UUID)')
    .option('--since <when>', 'only backups taken since: an ISO date or a duration back from now (7d)')
    .option('--json', 'print one JSON object')
    .action(async (pattern: string, opts: FindOptions) => {
      const sinceMs = opts.since === undefined ? null : parseSince(opts.since);
      const repo = await openRepository(opts);
      try {
        const r = await findInRepository(repo, { pattern, vm: opts.vm ?? null, sinceMs });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ files: r.files.map(fileJson), unindexed: r.unindexed, searchedBackups: r.searchedBackups, truncated: r.truncated })}\n`);
        } else {
          for (const f of r.files) {
            process.stdout.write(`${f.vmName} ${f.fs}:${f.path}\n`);
            for (const v of f.versions) {
              process.stdout.write(`  ${String(v.sizeBytes).padStart(12)} ${new Date(v.mtimeMs).toISOString()} ${v.sha256 ?? '-'.padEnd(64)} in ${v.backups.map((b) => b.backupId).join(' ')}\n`);
            }
          }
          if (r.files.length === 0) process.stdout.write(`no match in ${r.searchedBackups - r.unindexed.length} indexed backup(s)\n`);
        }
        if (r.unindexed.length > 0) process.stderr.write(`vmbak: warning: ${r.unindexed.length} backup(s) have no file index (vmbak index BACKUP): ${r.unindexed.slice(0, 5).join(', ')}${r.unindexed.length > 5 ? ', …' : ''}\n`);
        if (r.truncated) process.stderr.write('vmbak: warning: too many matches; narrow the pattern\n');
      } finally {
        await repo.target.close();
      }
    });
}

export function parseSince(text: string): number {
  const back = parseDuration(text);
  if (back !== null) return Date.now() - back;
  const at = Date.parse(text);
  if (Number.isNaN(at)) throw new VmbakError('USAGE', { detail: `--since ${text}: give an ISO date (2026-11-01) or a duration back from now (7d)` });
  return at;
}

export function fileJson(f: FoundFile) {
  return {
    vm: f.vmName, vmKey: f.vmKey, fs: f.fs, path: f.path, type: f.type,
    versions: f.versions.map((v) => ({ sizeBytes: v.sizeBytes, mtime: new Date(v.mtimeMs).toISOString(), sha256: v.sha256, backups: v.backups.map((b) => ({ backupId: b.backupId, time: new Date(b.timeMs).toISOString() })) })),
  };
}
