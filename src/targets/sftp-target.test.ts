// Runs the conformance suite and fault tests against a real OpenSSH sshd on loopback
// (test/support/sshd.ts), started once for this file.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type Sshd } from '../../test/support/sshd.ts';
import { findFreePort } from '../../test/support/free-port.ts';
import { mountSmallTmpfs } from '../../test/support/tmpfs.ts';
import { registerTargetConformance } from './target-conformance.ts';
import { openTarget } from './open-target.ts';
import { isVmbakError, type Target } from '../core/index.ts';

let sshd: Sshd | null = null;
let startError: unknown = null;
const base = await mkdtemp(join(tmpdir(), 'vmbak-sftp-data-'));
let n = 0;

before(async () => {
  try {
    sshd = await startSshd();
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    startError = err;
    return;
  }
  process.env.VMBAK_SSH_KEY = sshd.clientKeyPath;
  process.env.VMBAK_KNOWN_HOSTS = sshd.knownHostsPath;
});

after(async () => {
  await sshd?.stop();
  await rm(base, { recursive: true, force: true });
});

function url(path: string, query = ''): string {
  if (!sshd) throw new Error(`sshd did not start: ${String(startError)}`);
  return `sftp://${sshd.user}@${sshd.host}:${sshd.port}${path}${query}`;
}

async function open(): Promise<Target> {
  return await openTarget(url(join(base, `t${n++}`)));
}

registerTargetConformance('sftp', open);

test('sftp: the host key is pinned on first use and a changed key is refused', async () => {
  const pinned = await readFile(sshd!.knownHostsPath, 'utf8');
  assert.match(pinned, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd!.port} ssh-ed25519 `));
  await sshd!.kill();
  await sshd!.restart(true);
  const target = await open();
  await assert.rejects(target.put('x', Buffer.from('x')), (err) =>
    isVmbakError(err, 'TARGET_DENIED') && /host key differs/.test(err.message) && err.message.includes(`:${sshd!.port}`));
  await target.close();
  // The user removes the stale line: the new key is pinned and work goes on.
  await writeFile(sshd!.knownHostsPath, '');
  const again = await open();
  await again.put('x', Buffer.from('x'));
  await again.close();
});

test('sftp: home-relative path (sftp://host/~/path)', async () => {
  const target = await openTarget(url(`/~/vmbak-sftp-home-test-${process.pid}`));
  try {
    await target.put('a/b', Buffer.from('home'));
    assert.equal((await target.get('a/b')).toString(), 'home');
  } finally {
    await rm(join(process.env.HOME ?? '/root', `vmbak-sftp-home-test-${process.pid}`), { recursive: true, force: true });
    await target.close();
  }
});

test('sftp: connection refused is TARGET_UNREACHABLE', async () => {
  const port = await findFreePort();
  const target = await openTarget(`sftp://root@127.0.0.1:${port}/tmp/x`);
  await assert.rejects(target.stat('x'), (err) => isVmbakError(err, 'TARGET_UNREACHABLE') && err.message.includes(`127.0.0.1:${port}`));
  await target.close();
});

test('sftp: a full filesystem behind sshd gives TARGET_FULL and no partial object', async (t) => {
  const fs = await mountSmallTmpfs(8);
  if (!fs) return t.skip('cannot mount tmpfs');
  try {
    const target = await openTarget(url(join(fs.dir, 'repo')));
    try {
      await target.put('small', Buffer.from('fits'));
      await assert.rejects(target.put('big', randomBytes(12 * 1024 * 1024)), (err) => isVmbakError(err, 'TARGET_FULL'));
      assert.equal(await target.stat('big'), null);
      assert.deepEqual(await readdir(join(fs.dir, 'repo')), ['small']);
    } finally {
      await target.close();
    }
  } finally {
    await fs.unmount();
  }
});

test('sftp: server killed mid-transfer gives a retryable error and nothing under the final name', { timeout: 60_000 }, async () => {
  const dir = join(base, `t${n++}`);
  const target = await openTarget(url(dir));
  await target.put('warmup', Buffer.from('w'));
  const put = target.put('big.bin', randomBytes(400 * 1024 * 1024)); // still uploading when sshd dies
  // The kill is awaited before the restart: a restart racing it once left the old sshd running,
  // which held this test process open after its last test.
  const killed = new Promise<void>((resolve, reject) => setTimeout(() => sshd!.kill().then(resolve, reject), 150));
  await assert.rejects(put, (err) => isVmbakError(err) && err.retryable);
  await killed;
  await target.close();
  assert.deepEqual((await readdir(dir)).filter((f) => !f.includes('.vmbak-tmp-')), ['warmup']);
  await sshd!.restart();
});
