// What every repository command shares: resolving --repo (or VMBAK_REPO), opening the target
// and the repository with the right credentials, and an AbortSignal tied to Ctrl-C/SIGTERM.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { VmbakError, describeError } from '../core/index.ts';
import { openTarget } from '../targets/index.ts';
import { Repository } from '../repository/index.ts';
import { obtainPassphrase, readPassphraseFile } from './passphrase.ts';

export interface RepoOptions {
  repo: string[];
  passphraseFile: string[];
  keyFile?: string;
}

/** The repositories named by --repo (repeatable) or VMBAK_REPO. */
export function repoLocations(opts: RepoOptions): string[] {
  const locations = opts.repo.length > 0 ? opts.repo : process.env.VMBAK_REPO ? [process.env.VMBAK_REPO] : [];
  if (locations.length === 0) throw new VmbakError('USAGE', { detail: 'no repository: pass --repo or set VMBAK_REPO' });
  return locations;
}

/** The one repository of a command that takes one. */
export function repoLocation(opts: RepoOptions): string {
  const locations = repoLocations(opts);
  if (locations.length > 1) throw new VmbakError('USAGE', { detail: 'this command takes one --repo (only backup takes several, for failover)' });
  return locations[0]!;
}

export async function openRepository(opts: RepoOptions): Promise<Repository> {
  return openRepositoryAt(repoLocation(opts), opts, 0);
}

/** Opens the n-th repository of the command line with its own credentials. */
export async function openRepositoryAt(location: string, opts: RepoOptions, n: number): Promise<Repository> {
  const target = await openTarget(location);
  return Repository.open(target, async () => {
    if (opts.keyFile) {
      try {
        return { exportedKey: await readFile(opts.keyFile, 'utf8') };
      } catch (err) {
        throw new VmbakError('PASSPHRASE_FILE_UNREADABLE', { path: opts.keyFile, reason: describeError(err) });
      }
    }
    if (opts.passphraseFile.length > 1 && opts.passphraseFile.length <= n) {
      throw new VmbakError('USAGE', { detail: `no --passphrase-file for repository ${n + 1} (${target.displayUrl}): give one per --repo, in order` });
    }
    return { passphrase: await obtainPassphrase({ passphraseFile: opts.passphraseFile[Math.min(n, opts.passphraseFile.length - 1)] }) };
  });
}

/**
 * Opens a second repository of a command (copy's --to, backup's --copy-to) with credentials
 * of its own: its passphrase file, else the environment variable `envVar`, else the usual
 * VMBAK_PASSPHRASE or prompt.
 */
export async function openRepositoryWith(location: string, passphraseFile: string | undefined, envVar: string): Promise<Repository> {
  const target = await openTarget(location);
  return Repository.open(target, async () => {
    if (passphraseFile) return { passphrase: await readPassphraseFile(passphraseFile) };
    const fromEnv = process.env[envVar];
    if (fromEnv !== undefined && fromEnv !== '') return { passphrase: fromEnv };
    return { passphrase: await obtainPassphrase({ prompt: `Passphrase for ${target.displayUrl}: ` }) };
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
    .option('--repo <location>', 'repository path or URL (default: $VMBAK_REPO)', collect, [])
    .option('--passphrase-file <file>', 'read the passphrase from a file (default: $VMBAK_PASSPHRASE, or a prompt); one per --repo', collect, [])
    .option('--key-file <file>', 'unlock with a master key saved by `vmbak key export` instead of a passphrase');
}

/** Commander helper for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
