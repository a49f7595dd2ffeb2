// vmbak files ls|get: browse a backup's guest filesystems and copy files out of them, without a
// restore and without mounting anything on the host (libguestfs's appliance reads the disks
// through an NBD export served from the repository).

import type { Command } from 'commander';
import { formatDuration } from '../../core/index.ts';
import { formatFilePath, getBackupFiles, listBackupFiles, type FileEntry } from '../../files/index.ts';
import { resolveBackupRef } from '../../services/index.ts';
import { openRepository, withRepoOptions, type RepoOptions } from '../context.ts';
import { registerFindCommand } from './file-index.ts';

interface LsOptions extends RepoOptions { json?: boolean }
interface GetOptions extends RepoOptions { to?: string; archive?: string; json?: boolean }

export function registerFilesCommands(program: Command): void {
  const files = program.command('files').description('browse and copy out files of a backup\'s guest filesystems (libguestfs)');
  withRepoOptions(files.command('ls'))
    .description('list the filesystems of a backup, or a directory as FILESYSTEM:/path')
    .argument('<backup>', 'backup id (or a unique prefix), latest, or VM@latest')
    .argument('[path]', 'FILESYSTEM:/path, e.g. vda/p1:/etc, or /path in the guest OS (its root with its fstab mounts)')
    .option('--json', 'print one JSON object')
    .action(async (ref: string, spec: string | undefined, opts: LsOptions) => {
      const repo = await openRepository(opts);
      try {
        const backup = await resolveBackupRef(repo, ref);
        const listing = await listBackupFiles({ repo, backup }, spec ?? null);
        if (opts.json) {
          const common = { backupId: backup.backupId, vm: backup.vm.name, launchMs: listing.launchMs };
          const body = listing.kind === 'filesystems'
            ? { ...common, filesystems: listing.filesystems.map((f) => ({ id: f.id, type: f.type })) }
            : { ...common, fs: listing.fs, path: listing.path, entries: listing.entries.map(entryJson) };
          process.stdout.write(`${JSON.stringify(body)}\n`);
        } else if (listing.kind === 'filesystems') {
          for (const f of listing.filesystems) process.stdout.write(`${f.id} ${f.type}\n`);
        } else {
          for (const e of listing.entries) process.stdout.write(`${entryLine(e)}\n`);
        }
      } finally {
        await repo.target.close();
      }
    });
  withRepoOptions(files.command('get'))
    .description('copy files, symlinks and directories (recursively) out of a backup, keeping modes, owners and mtimes')
    .argument('<backup>', 'backup id (or a unique prefix), latest, or VM@latest')
    .argument('<paths...>', 'FILESYSTEM:/path, e.g. vda/p1:/etc/hostname, or /path in the guest OS')
    .option('--to <dir>', 'write each path as DIR/<its name>')
    .option('--archive <file.tar>', 'write one tar archive instead')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, specs: string[], opts: GetOptions) => {
      const repo = await openRepository(opts);
      try {
        const backup = await resolveBackupRef(repo, ref);
        const started = Date.now();
        const r = await getBackupFiles({ repo, backup, specs, toDir: opts.to ?? null, archive: opts.archive ?? null });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ backupId: backup.backupId, vm: backup.vm.name, launchMs: r.launchMs, durationMs: Date.now() - started, copied: r.copied })}\n`);
        } else {
          for (const c of r.copied) process.stdout.write(`copied ${formatFilePath(c.fs, c.path)} (${c.type}) to ${c.to}\n`);
          process.stdout.write(`copied ${r.copied.length} path(s) from backup ${backup.backupId} of ${backup.vm.name} in ${formatDuration(Date.now() - started)}\n`);
        }
      } finally {
        await repo.target.close();
      }
    });
  registerFindCommand(files);
}

function entryJson(e: FileEntry) {
  return { name: e.name, type: e.type, sizeBytes: e.sizeBytes, mode: modeOctal(e.mode), uid: e.uid, gid: e.gid, mtime: new Date(e.mtimeMs).toISOString(), target: e.target };
}

const TYPE_CHAR: Record<FileEntry['type'], string> = { file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's' };

/** Like `ls -l --numeric-uid-gid`, with an ISO mtime. */
function entryLine(e: FileEntry): string {
  const perms = [6, 3, 0].map((shift) => {
    const bits = (e.mode >> shift) & 7;
    return `${bits & 4 ? 'r' : '-'}${bits & 2 ? 'w' : '-'}${bits & 1 ? 'x' : '-'}`;
  }).join('');
  const mtime = new Date(e.mtimeMs).toISOString().slice(0, 19).replace('T', ' ');
  return `${TYPE_CHAR[e.type]}${perms} ${String(e.uid).padStart(5)} ${String(e.gid).padStart(5)} ${String(e.sizeBytes).padStart(12)} ${mtime} ${e.name}${e.target !== null ? ` -> ${e.target}` : ''}`;
}

function modeOctal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
