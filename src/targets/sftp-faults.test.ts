// An SFTP server that dies (SIGKILL) or freezes (SIGSTOP) under an operation, or hangs up
// during login without an error: every operation must settle within a few seconds with a
// retryable TARGET_UNREACHABLE, and close() must leave no socket behind. Real OpenSSH sshd on
// loopback; the options set short timeouts, as the failover tests do.

import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshdForTargets, type Sshd } from '../../test/support/sshd.ts';
import { startCuttingProxy } from '../../test/support/cutting-proxy.ts';
import { bigUploadThen as uploadThenBreak, settleTimed, socketsTo, unreachableWithin } from '../../test/support/settle.ts';
import { openTarget } from './open-target.ts';
import type { Target } from '../core/index.ts';

const TIMEOUTS = '?timeoutMs=3000&connectTimeoutMs=3000';
let sshd: Sshd;
const base = await mkdtemp(join(tmpdir(), 'vmbak-sftp-faults-'));
let n = 0;

before(async () => { sshd = await startSshdForTargets(); });
after(async () => { await Promise.all([sshd.stop(), rm(base, { recursive: true, force: true })]); });

function sftpUrl(dir: string, port = sshd.port, query = TIMEOUTS): string {
  return `sftp://${sshd.user}@127.0.0.1:${port}${dir}${query}`;
}



async function bigUploadThen(t: TestContext, breakServer: () => Promise<void>, limitMs: number): Promise<void> {
  const dir = join(base, `t${n++}`);
  await uploadThenBreak(t, await openTarget(sftpUrl(dir)), dir, breakServer, limitMs);
}

test('sftp: sshd SIGKILLed mid-upload → the put fails at once with TARGET_UNREACHABLE', { timeout: 60_000 }, async (t) => {
  try {
    await bigUploadThen(t, () => sshd.kill(), 3000);
  } finally {
    await sshd.restart();
  }
});

test('sftp: sshd SIGSTOPped mid-upload → the put fails within seconds (keepalives) with TARGET_UNREACHABLE', { timeout: 60_000 }, async (t) => {
  try {
    await bigUploadThen(t, () => sshd.pause(), 10_000);
  } finally {
    await sshd.resume();
  }
});

test('sftp: stat, list, get and a new login against a frozen sshd all settle with TARGET_UNREACHABLE; close() drops the sockets', { timeout: 60_000 }, async (t) => {
  const dir = join(base, `t${n++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'obj'), Buffer.alloc(1024, 1));
  const target: Target = await openTarget(sftpUrl(dir));
  try {
    assert.equal((await target.stat('obj'))?.sizeBytes, 1024); // a live connection first
    await sshd.pause();
    const results = await Promise.all([target.stat('obj'), target.list(''), target.get('obj'), target.get('obj', { offsetBytes: 1, lengthBytes: 2 })].map((p) => settleTimed(p)));
    results.forEach((r, i) => unreachableWithin(t, r, 10_000, ['stat', 'list', 'get', 'ranged get'][i]!));
    // The dead connection is gone: the next operation logs in anew, to a server that never answers.
    unreachableWithin(t, await settleTimed(target.stat('obj')), 10_000, 'stat on a new login');
  } finally {
    const closing = await settleTimed(target.close());
    assert.ok(closing.elapsedMs < 5000, `close() took ${closing.elapsedMs} ms`);
    await new Promise((r) => setTimeout(r, 2500)); // close() gives a silent server 2 s to answer
    assert.equal(socketsTo(sshd.port), 0, 'no socket to the frozen server stays open');
    await sshd.resume();
  }
});

test('sftp: a server that hangs up during key exchange without an error fails the login in time', { timeout: 60_000 }, async (t) => {
  // Past the banner (so ssh2 has seen the server) and into the key exchange.
  const proxy = await startCuttingProxy(sshd.port, 100);
  const target = await openTarget(sftpUrl(join(base, `t${n++}`), proxy.port, ''));
  try {
    unreachableWithin(t, await settleTimed(target.stat('x')), 5000, 'stat through a proxy that hangs up');
  } finally {
    await target.close();
    await proxy.close();
  }
});

test('sftp: close() right after sshd froze returns and leaves no socket open', { timeout: 30_000 }, async () => {
  const target = await openTarget(sftpUrl(join(base, `t${n++}`)));
  try {
    await target.put('x', Buffer.from('x'));
    await sshd.pause();
    const closing = await settleTimed(target.close());
    assert.ok(closing.elapsedMs < 1000, `close() took ${closing.elapsedMs} ms`);
    await new Promise((r) => setTimeout(r, 2500)); // close() gives a silent server 2 s to answer
    assert.equal(socketsTo(sshd.port), 0, 'no socket to the frozen server stays open');
  } finally {
    await sshd.resume();
  }
});
