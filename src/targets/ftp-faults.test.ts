// An FTP server that dies (SIGKILL) or freezes (SIGSTOP) under an operation: every operation
// must settle within a few seconds with a retryable TARGET_UNREACHABLE, the pool must not keep
// a dead client, and close() must leave no socket behind. Real vsftpd on loopback, with a
// short operation timeout in the URL.

import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, mkdir, chown, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startVsftpd, type Vsftpd } from '../../test/support/vsftpd.ts';
import { bigUploadThen as uploadThenBreak, settleTimed, socketsTo, unreachableWithin } from '../../test/support/settle.ts';
import { openTarget } from './open-target.ts';
import type { Target } from '../core/index.ts';

const TIMEOUTS = '?timeoutMs=3000&connectTimeoutMs=3000';
let ftp: Vsftpd;
let n = 0;

before(async () => {
  ftp = await startVsftpd({ tls: false });
});

after(async () => {
  await ftp.stop();
});



/** A fresh folder under /data, owned like /data so the anonymous user may write there. */
async function freshDir(): Promise<{ sub: string; dir: string }> {
  const sub = `t${n++}`;
  const dir = join(ftp.rootDir, 'data', sub);
  await mkdir(dir, { recursive: true });
  const owner = await stat(join(ftp.rootDir, 'data'));
  await chown(dir, owner.uid, owner.gid);
  return { sub, dir };
}

async function bigUploadThen(t: TestContext, breakServer: () => Promise<void>, limitMs: number): Promise<void> {
  const { sub, dir } = await freshDir();
  await uploadThenBreak(t, await openTarget(`ftp://${ftp.host}:${ftp.port}/data/${sub}${TIMEOUTS}`), dir, breakServer, limitMs);
}

test('ftp: vsftpd SIGKILLed mid-upload → the put fails at once with TARGET_UNREACHABLE', { timeout: 60_000 }, async (t) => {
  try {
    await bigUploadThen(t, () => ftp.kill(), 3000);
  } finally {
    await ftp.restart();
  }
});

test('ftp: vsftpd SIGSTOPped mid-upload → the put fails within the timeout with TARGET_UNREACHABLE', { timeout: 60_000 }, async (t) => {
  try {
    await bigUploadThen(t, () => ftp.pause(), 10_000);
  } finally {
    await ftp.resume();
  }
});

test('ftp: stat, list, get and a new login against a frozen vsftpd all settle with TARGET_UNREACHABLE; close() drops the sockets', { timeout: 60_000 }, async (t) => {
  const { sub, dir } = await freshDir();
  await writeFile(join(dir, 'obj'), Buffer.alloc(1024, 1));
  const target: Target = await openTarget(`ftp://${ftp.host}:${ftp.port}/data/${sub}${TIMEOUTS}&connections=1`);
  try {
    assert.equal((await target.stat('obj'))?.sizeBytes, 1024); // a live, idle, pooled connection first
    await ftp.pause();
    unreachableWithin(t, await settleTimed(target.stat('obj')), 10_000, 'stat');
    // Each failure drops its client: what follows logs in anew, to a server that never answers.
    unreachableWithin(t, await settleTimed(target.list('')), 10_000, 'list');
    unreachableWithin(t, await settleTimed(target.get('obj')), 10_000, 'get');
    unreachableWithin(t, await settleTimed(target.get('obj', { offsetBytes: 1, lengthBytes: 2 })), 10_000, 'ranged get');
  } finally {
    const closing = await settleTimed(target.close());
    assert.ok(closing.elapsedMs < 1000, `close() took ${closing.elapsedMs} ms`);
    assert.equal(socketsTo(ftp.port), 0, 'no socket to the frozen server stays open');
    await ftp.resume();
  }
});

test('ftp: a download from a vsftpd SIGSTOPped mid-transfer fails within the timeout', { timeout: 60_000 }, async (t) => {
  const { sub, dir } = await freshDir();
  await writeFile(join(dir, 'big'), Buffer.alloc(512 * 1024 * 1024, 3));
  // 512 MiB takes well over 100 ms on loopback: the server freezes mid-transfer.
  const target = await openTarget(`ftp://${ftp.host}:${ftp.port}/data/${sub}${TIMEOUTS}`);
  try {
    const get = target.get('big');
    await new Promise((r) => setTimeout(r, 100));
    await ftp.pause();
    unreachableWithin(t, await settleTimed(get), 10_000, 'the get');
  } finally {
    await target.close();
    await ftp.resume();
  }
});
