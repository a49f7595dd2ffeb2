// Runs the conformance suite and fault tests against real vsftpd servers on loopback
// (test/support/vsftpd.ts): one plain FTP, one FTPS with a self-signed certificate that is
// trusted through VMBAK_CA_FILE.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, chown, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startVsftpd, type Vsftpd } from '../../test/support/vsftpd.ts';
import { findFreePort } from '../../test/support/free-port.ts';
import { registerTargetConformance } from './target-conformance.ts';
import { openTarget } from './open-target.ts';
import { isVmbakError, type Target } from '../core/index.ts';

const run = promisify(execFile);
let ftp: Vsftpd | null = null;
let ftps: Vsftpd | null = null;
let startError: unknown = null;
let n = 0;

before(async () => {
  try {
    [ftp, ftps] = await Promise.all([startVsftpd({ tls: false }), startVsftpd({ tls: true })]);
  } catch (err) {
    if (process.env.CI === 'true') throw err;
    startError = err;
    return;
  }
  process.env.VMBAK_CA_FILE = ftps.caFile!;
});

after(async () => {
  await ftp?.stop();
  await ftps?.stop();
});

function server(secure: boolean): Vsftpd {
  const s = secure ? ftps : ftp;
  if (!s) throw new Error(`vsftpd did not start: ${String(startError)}`);
  return s;
}

function url(secure: boolean, path: string): string {
  const s = server(secure);
  return `${secure ? 'ftps' : 'ftp'}://${s.host}:${s.port}${path}`;
}

const open = (secure: boolean) => async (): Promise<Target> => await openTarget(url(secure, `/data/t${n++}`));

registerTargetConformance('ftp', open(false), { listTimePrecisionMs: 60_000 });
registerTargetConformance('ftps', open(true), { largeObjects: false, listTimePrecisionMs: 60_000 });

test('ftps: an untrusted certificate is a clear TLS error', async () => {
  const saved = process.env.VMBAK_CA_FILE;
  delete process.env.VMBAK_CA_FILE;
  try {
    const target = await open(true)();
    await assert.rejects(target.stat('x'), (err) => isVmbakError(err, 'TARGET_DENIED') && /TLS certificate not trusted/.test(err.message) && !err.message.includes('\n'));
    await target.close();
  } finally {
    process.env.VMBAK_CA_FILE = saved;
  }
});

test('ftp: connection refused is TARGET_UNREACHABLE', async () => {
  const port = await findFreePort();
  const target = await openTarget(`ftp://127.0.0.1:${port}/data`);
  await assert.rejects(target.stat('x'), (err) => isVmbakError(err, 'TARGET_UNREACHABLE') && err.message.includes(`127.0.0.1:${port}`));
  await target.close();
});

// On ENOSPC vsftpd resets the data connection first and replies 451 on the control connection
// right after: the reply must still be read, and named as the target being full.
for (const secure of [false, true]) {
  test(`${secure ? 'ftps' : 'ftp'}: a full filesystem behind vsftpd gives TARGET_FULL and no partial object`, async (t) => {
    const s = server(secure);
    const dir = join(s.rootDir, 'data', 'full');
    await run('mkdir', ['-p', dir]);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=755', 'tmpfs', dir]);
    } catch (err) {
      if (process.env.CI === 'true') throw err;
      return t.skip('cannot mount tmpfs');
    }
    try {
      const owner = await stat(join(s.rootDir, 'data'));
      await chown(dir, owner.uid, owner.gid);
      const target = await openTarget(url(secure, '/data/full'));
      try {
        await target.put('small', Buffer.from('fits'));
        await assert.rejects(target.put('big', randomBytes(12 * 1024 * 1024)), (err) =>
          isVmbakError(err, 'TARGET_FULL') && err.message.includes(target.displayUrl) && /451/.test(err.message));
        assert.equal(await target.stat('big'), null);
        assert.deepEqual(await readdir(dir), ['small']);
      } finally {
        await target.close();
      }
    } finally {
      await run('umount', ['-l', dir]).catch(() => {});
    }
  });
}

test('ftp: server killed mid-transfer gives a retryable error and nothing under the final name', { timeout: 60_000 }, async () => {
  const s = server(false);
  const sub = `t${n++}`;
  const target = await openTarget(url(false, `/data/${sub}`));
  await target.put('warmup', Buffer.from('w'));
  const put = target.put('big.bin', randomBytes(300 * 1024 * 1024));
  // Kill the server once the upload is under way (its temporary file is growing), not at a
  // fixed delay: a fast machine finishes 300 MiB on loopback in well under a second.
  const dir = join(s.rootDir, 'data', sub);
  const growing = async (): Promise<boolean> => {
    for (const f of (await readdir(dir)).filter((name) => name.includes('.vmbak-tmp-'))) {
      if (((await stat(join(dir, f)).catch(() => null))?.size ?? 0) > 0) return true;
    }
    return false;
  };
  let settled = false;
  put.then(() => { settled = true; }, () => { settled = true; });
  while (!settled && !(await growing())) await new Promise((r) => setTimeout(r, 5));
  await s.kill();
  await assert.rejects(put, (err) => isVmbakError(err) && err.retryable);
  await target.close();
  assert.deepEqual((await readdir(dir)).filter((f) => !f.includes('.vmbak-tmp-')), ['warmup']);
  await s.restart();
});
