// The ways an SFTP target logs in, each proven against a real OpenSSH sshd on loopback with
// no other credential within reach (no VMBAK_SSH_KEY, empty HOME): a password
// (VMBAK_SFTP_PASSWORD) for an account that sshd lets in by password only, and a key held by
// a real ssh-agent (SSH_AUTH_SOCK). Wrong or missing credentials are TARGET_DENIED.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startSshd, type Sshd } from '../../test/support/sshd.ts';
import { startSshAgent } from '../../test/support/ssh-agent.ts';
import { openTarget } from './open-target.ts';
import { isVmbakError } from '../core/index.ts';

let sshd: Sshd;
const emptyHome = await mkdtemp(join(tmpdir(), 'vmbak-empty-home-'));
const CREDENTIAL_VARS = ['VMBAK_SSH_KEY', 'VMBAK_SSH_KEY_PASSPHRASE', 'VMBAK_SFTP_PASSWORD', 'SSH_AUTH_SOCK', 'HOME'] as const;

before(async () => {
  sshd = await startSshd({ passwordAccount: true });
  process.env.VMBAK_KNOWN_HOSTS = sshd.knownHostsPath;
});

after(async () => {
  await sshd.stop();
  await rm(emptyHome, { recursive: true, force: true });
});

/** Runs body with exactly the given credentials in the environment, HOME pointing nowhere useful. */
async function withCredentials(vars: Partial<Record<(typeof CREDENTIAL_VARS)[number], string>>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(CREDENTIAL_VARS.map((k) => [k, process.env[k]]));
  for (const k of CREDENTIAL_VARS) delete process.env[k];
  Object.assign(process.env, { HOME: emptyHome, ...vars });
  try {
    await body();
  } finally {
    for (const k of CREDENTIAL_VARS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

async function roundTrip(url: string, name: string): Promise<void> {
  const target = await openTarget(url);
  try {
    await target.put(name, Buffer.from(`via ${name}`));
    assert.equal((await target.get(name)).toString(), `via ${name}`);
  } finally {
    await target.close();
  }
}

test('sftp: logs in with VMBAK_SFTP_PASSWORD (password-only account) and writes as that user', async () => {
  const account = sshd.passwordAccount!;
  const url = `sftp://${account.user}@127.0.0.1:${sshd.port}${account.dir}/repo`;
  await withCredentials({ VMBAK_SFTP_PASSWORD: account.password }, () => roundTrip(url, 'pw-object'));
  const uid = Number(execFileSync('id', ['-u', account.user], { encoding: 'utf8' }).trim());
  assert.equal((await stat(join(account.dir, 'repo', 'pw-object'))).uid, uid, 'the object belongs to the password account');
});

test('sftp: a wrong password is TARGET_DENIED naming the target', async () => {
  const account = sshd.passwordAccount!;
  const url = `sftp://${account.user}@127.0.0.1:${sshd.port}${account.dir}/repo`;
  await withCredentials({ VMBAK_SFTP_PASSWORD: 'not-the-password' }, async () => {
    const target = await openTarget(url);
    try {
      await assert.rejects(target.stat('x'), (err) => isVmbakError(err, 'TARGET_DENIED') && err.message.includes(`127.0.0.1:${sshd.port}`));
    } finally {
      await target.close();
    }
  });
});

test('sftp: logs in through ssh-agent (SSH_AUTH_SOCK) holding the key', async () => {
  const agent = await startSshAgent([sshd.clientKeyPath]);
  try {
    const dir = await mkdtemp(join(tmpdir(), 'vmbak-agent-repo-'));
    try {
      await withCredentials({ SSH_AUTH_SOCK: agent.socketPath }, () => roundTrip(`sftp://${sshd.user}@127.0.0.1:${sshd.port}${dir}/repo`, 'agent-object'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await agent.stop();
  }
});

test('sftp: an ssh-agent without the key is TARGET_DENIED', async () => {
  const agent = await startSshAgent([]);
  try {
    await withCredentials({ SSH_AUTH_SOCK: agent.socketPath }, async () => {
      const target = await openTarget(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/tmp/vmbak-never`);
      try {
        await assert.rejects(target.stat('x'), (err) => isVmbakError(err, 'TARGET_DENIED'));
      } finally {
        await target.close();
      }
    });
  } finally {
    await agent.stop();
  }
});

test('sftp: with no credential at all the error says where credentials come from', async () => {
  await withCredentials({}, async () => {
    const target = await openTarget(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/tmp/vmbak-never`);
    try {
      await assert.rejects(target.stat('x'), (err) => isVmbakError(err, 'TARGET_DENIED') && /VMBAK_SSH_KEY.*ssh-agent.*VMBAK_SFTP_PASSWORD/.test(err.message));
    } finally {
      await target.close();
    }
  });
});
