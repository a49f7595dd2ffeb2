// vmbak key passwd | export: change the passphrase (no data is rewritten) or print the master
// key, the only way back into a repository whose passphrase is lost.

import type { Command } from 'commander';
import { VmbakError } from '../../core/index.ts';
import { encodeExportedKey } from '../../repository/index.ts';
import { openRepository, type RepoOptions, withRepoOptions } from '../context.ts';
import { obtainPassphrase, readPassphraseFile } from '../passphrase.ts';

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('manage the repository key');
  withRepoOptions(key.command('passwd'))
    .description('change the passphrase (the data is not rewritten)')
    .option('--new-passphrase-file <file>', 'read the new passphrase from a file (default: $VMBAK_NEW_PASSPHRASE, or a prompt)')
    .action(async (opts: RepoOptions & { newPassphraseFile?: string }) => {
      const repo = await openRepository(opts);
      if (!repo.config.encryption) throw new VmbakError('REPO_NOT_ENCRYPTED', { repo: repo.displayUrl });
      let next: string;
      if (opts.newPassphraseFile) next = await readPassphraseFile(opts.newPassphraseFile);
      else if (process.env.VMBAK_NEW_PASSPHRASE !== undefined) next = process.env.VMBAK_NEW_PASSPHRASE;
      else {
        const saved = process.env.VMBAK_PASSPHRASE;
        delete process.env.VMBAK_PASSPHRASE;
        next = await obtainPassphrase({ confirm: true, prompt: 'New passphrase: ' }).finally(() => { if (saved !== undefined) process.env.VMBAK_PASSPHRASE = saved; });
      }
      if (next === '') throw new VmbakError('PASSPHRASE_EMPTY');
      await repo.changePassphrase(next);
      process.stdout.write(`passphrase changed for ${repo.displayUrl}\n`);
    });
  withRepoOptions(key.command('export'))
    .description('print the master key; keep it apart from the repository')
    .action(async (opts: RepoOptions) => {
      const repo = await openRepository(opts);
      process.stdout.write(`${encodeExportedKey(repo.config.repositoryId, repo.masterSecret)}\n`);
    });
}
