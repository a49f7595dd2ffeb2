// Where an SFTP target's credentials come from, following what SSH users already have:
// VMBAK_SSH_KEY=path (passphrase in VMBAK_SSH_KEY_PASSPHRASE), else the ssh-agent at
// SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa; a password from
// VMBAK_SFTP_PASSWORD is offered as well when set. Nothing here is ever logged.

import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { VmbakError } from '../core/index.ts';

export interface SshCredentials {
  privateKey?: Buffer;
  passphrase?: string;
  agent?: string;
  password?: string;
}

export function sshCredentials(displayUrl: string): SshCredentials {
  const creds: SshCredentials = {};
  if (process.env.VMBAK_SFTP_PASSWORD) creds.password = process.env.VMBAK_SFTP_PASSWORD;
  const keyPath = process.env.VMBAK_SSH_KEY;
  if (keyPath) {
    try {
      creds.privateKey = readFileSync(keyPath);
    } catch (err) {
      throw new VmbakError('TARGET_DENIED', { target: displayUrl, detail: `cannot read VMBAK_SSH_KEY ${keyPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` });
    }
  } else if (process.env.SSH_AUTH_SOCK) {
    creds.agent = process.env.SSH_AUTH_SOCK;
  } else {
    for (const name of ['id_ed25519', 'id_ecdsa', 'id_rsa']) {
      const path = join(homedir(), '.ssh', name);
      if (existsSync(path)) { creds.privateKey = readFileSync(path); break; }
    }
  }
  if (process.env.VMBAK_SSH_KEY_PASSPHRASE) creds.passphrase = process.env.VMBAK_SSH_KEY_PASSPHRASE;
  if (!creds.privateKey && !creds.agent && !creds.password) {
    throw new VmbakError('TARGET_DENIED', { target: displayUrl, detail: 'no SSH key (VMBAK_SSH_KEY, ssh-agent, ~/.ssh/id_*) and no VMBAK_SFTP_PASSWORD' });
  }
  return creds;
}
