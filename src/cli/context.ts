// What every repository command shares: resolving --repo (or VMBAK_REPO), opening the target
// and the repository with the right credentials, and an AbortSignal tied to Ctrl-C/SIGTERM.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { VmbakError, describeError } from '../core/index.ts';
import { openTarget } from '../targets/index.ts';
import { Repository } from '../repository/index.ts';
import { obtainPassphrase } from './passphrase.ts';

export interface RepoOptions {
  repo?: string;
  passphraseFile?: string;
  keyFile?: string;
}

export function repoLocation(opts: RepoOptions): string {
  const location = opts.repo ?? process.env.VMBAK_REPO;
  if (!location) throw new VmbakError('USAGE', { detail: 'no repository: pass --repo or set VMBAK_REPO' });
  return location;
}

export async function openRepository(opts: RepoOptions): Promise<Repository> {
  const target = await openTarget(repoLocation(opts));
  return Repository.open(target, async () => {
    if (opts.keyFile) {
      try {
        return { exportedKey: await readFile(opts.keyFile, 'utf8') };
      } catch (err) {
        throw new VmbakError('PASSPHRASE_FILE_UNREADABLE', { path: opts.keyFile, reason: describeError(err) });
      }
    }
    return { passphrase: await obtainPassphrase({ passphraseFile: opts.passphraseFile }) };
  });
}

/** Aborts on the first SIGINT or SIGTERM; a second one is left to the default (exit). */
export function abortOnSignals(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    controller.abort(new VmbakError('ABORTED', { signal }));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

/** Adds the options every repository command takes. */
export function withRepoOptions(cmd: Command): Command {
  return cmd
    .option('--repo <location>', 'repository path or URL (default: $VMBAK_REPO)')
    .option('--passphrase-file <file>', 'read the passphrase from a file (default: $VMBAK_PASSPHRASE, or a prompt)')
    .option('--key-file <file>', 'unlock with a master key saved by `vmbak key export` instead of a passphrase');
}
