// Who owns a VM's swtpm state: the user and group libvirt runs swtpm as. libvirt takes them
// from qemu.conf (swtpm_user, swtpm_group) and otherwise uses "tss", falling back to root
// where no such user exists; it chowns the state to them on every VM start. Restored state
// gets the same owner so it is right before that first start too.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const QEMU_CONF = '/etc/libvirt/qemu.conf';
const DEFAULT_SWTPM_ACCOUNT = 'tss';

export interface FileOwner {
  readonly uid: number;
  readonly gid: number;
}

export async function swtpmOwner(confPath = QEMU_CONF): Promise<FileOwner> {
  const conf = await readFile(confPath, 'utf8').catch(() => '');
  const user = confValue(conf, 'swtpm_user') ?? DEFAULT_SWTPM_ACCOUNT;
  const group = confValue(conf, 'swtpm_group') ?? DEFAULT_SWTPM_ACCOUNT;
  return { uid: await accountId('passwd', user), gid: await accountId('group', group) };
}

function confValue(conf: string, key: string): string | null {
  const m = new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`, 'm').exec(conf);
  return m?.[1] || null;
}

/** "+N" is libvirt's spelling of a numeric id; a name goes through NSS (getent), root if unknown. */
async function accountId(db: 'passwd' | 'group', name: string): Promise<number> {
  if (/^\+\d+$/.test(name)) return Number(name.slice(1));
  try {
    const { stdout } = await run('getent', [db, name]);
    const id = Number(stdout.split(':')[2]);
    return Number.isInteger(id) ? id : 0;
  } catch {
    return 0;
  }
}
