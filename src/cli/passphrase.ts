// Where a passphrase comes from: --passphrase-file, then VMBAK_PASSPHRASE, then a prompt when
// standard input is a terminal. Never from a command-line argument, where `ps` would show it.

import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { VmbakError, describeError } from '../core/index.ts';

export async function readPassphraseFile(path: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    throw new VmbakError('PASSPHRASE_FILE_UNREADABLE', { path, reason: describeError(err) });
  }
}

export async function obtainPassphrase(opts: { passphraseFile?: string; confirm?: boolean; prompt?: string }): Promise<string> {
  let passphrase: string | undefined;
  if (opts.passphraseFile) passphrase = await readPassphraseFile(opts.passphraseFile);
  else if (process.env.VMBAK_PASSPHRASE !== undefined) passphrase = process.env.VMBAK_PASSPHRASE;
  else if (process.stdin.isTTY) {
    passphrase = await promptHidden(opts.prompt ?? 'Repository passphrase: ');
    if (opts.confirm && passphrase !== (await promptHidden('Repeat passphrase: '))) throw new VmbakError('PASSPHRASE_MISMATCH');
  }
  if (passphrase === undefined) throw new VmbakError('PASSPHRASE_MISSING');
  if (passphrase === '') throw new VmbakError('PASSPHRASE_EMPTY');
  return passphrase;
}

export function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const output = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(question);
    output._writeToOutput = () => {};
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
