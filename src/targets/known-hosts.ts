// vmbak's own known-hosts file for SFTP targets: a server's host key is pinned the first
// time vmbak connects (trust on first use) and must match on every later connection, so a
// changed key (a new server, or someone in the middle) stops the connection before any
// credential is offered. Lines use OpenSSH's format, `[host]:port keytype base64key`, so the
// file can be read and edited with the usual tools. Location: $VMBAK_KNOWN_HOSTS, else
// $VMBAK_HOME/known_hosts, else ~/.config/vmbak/known_hosts.

import { readFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function knownHostsPath(): string {
  if (process.env.VMBAK_KNOWN_HOSTS) return process.env.VMBAK_KNOWN_HOSTS;
  const home = process.env.VMBAK_HOME || join(homedir(), '.config', 'vmbak');
  return join(home, 'known_hosts');
}

export type HostKeyCheck =
  | { readonly status: 'match' | 'pinned' }
  | { readonly status: 'changed'; readonly knownType: string; readonly file: string };

function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key's type is the first string inside the SSH wire-format public key blob. */
export function keyType(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

/**
 * Checks a server's host key against the file, pinning it when the host has no entry yet.
 * Synchronous because ssh2's host verifier may be; the file is small.
 */
export function checkHostKey(host: string, port: number, keyBlob: Buffer, file = knownHostsPath()): HostKeyCheck {
  const pattern = hostPattern(host, port);
  const type = keyType(keyBlob);
  const key = keyBlob.toString('base64');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  let otherType: string | null = null;
  for (const line of text.split('\n')) {
    const [hosts, lineType, lineKey] = line.trim().split(/\s+/);
    if (!hosts || hosts.startsWith('#') || !hosts.split(',').includes(pattern)) continue;
    if (lineType === type) {
      if (lineKey === key) return { status: 'match' };
      return { status: 'changed', knownType: type, file };
    }
    otherType = lineType ?? null;
  }
  // A pinned host that now offers a key of another type is a changed key too.
  if (otherType !== null) return { status: 'changed', knownType: otherType, file };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${pattern} ${type} ${key}\n`, { mode: 0o600 });
  return { status: 'pinned' };
}
