// Where an SFTP target's credentials come from, following what SSH users already have:
// VMBAK_SSH_KEY=path (passphrase in VMBAK_SSH_KEY_PASSPHRASE), else the ssh-agent at
// SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa; a password from
// VMBAK_SFTP_PASSWORD is offered as well when set. Nothing here is ever logged.

import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VmbakError } from '../core/index.ts';
import type { TargetSecrets } from './target-options.ts';

export interface SshCredentials {
  privateKey?: Buffer;
  passphrase?: string;
  agent?: string;
  password?: string;
}

export function sshCredentials(displayUrl: string, env: TargetSecrets = process.env): SshCredentials {
  const creds: SshCredentials = {};
  if (env.VMBAK_SFTP_PASSWORD) creds.password = env.VMBAK_SFTP_PASSWORD;
  const keyPath = env.VMBAK_SSH_KEY;
  if (keyPath) {
    try {
      creds.privateKey = readFileSync(keyPath);
    } catch (err) {
      throw new VmbakError('TARGET_DENIED', { target: displayUrl, detail: `cannot read VMBAK_SSH_KEY ${keyPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    }
  } else if (env.SSH_AUTH_SOCK) {
    creds.agent = env.SSH_AUTH_SOCK;
  } else {
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const path = join(homedir(), '.ssh', name);
      if (existsSync(path)) { creds.privateKey = readFileSync(path); break; }
    }
  }
  if (env.VMBAK_SSH_KEY_PASSPHRASE) creds.passphrase = env.VMBAK_SSH_KEY_PASSPHRASE;
  if (!creds.privateKey && !creds.agent && !creds.password) {
    throw new VmbakError('TARGET_DENIED', { target: displayUrl, detail: 'no SSH key (VMBAK_SSH_KEY, ssh-agent, ~/.ssh/id_*) and no VMBAK_SFTP_PASSWORD' });
  }
  return creds;
}
