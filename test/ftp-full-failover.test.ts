// A full FTP target during a real `vmbak backup` with a second --repo: vsftpd on loopback
// with its repository folder on an 8 MiB tmpfs, a 24 MiB image of random bytes. The write that
// fills the disk is reported as TARGET_FULL naming the FTP target, and the backup moves to
// the next target at once (no retries against a full disk) and completes there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdir, chown, stat } from 'node:fs/promises';
import { vmbak, tempDir, qemuImg, jsonLine } from './support/vmbak-cli.ts';
import { ftpServer, type RepoServer } from './support/repo-servers.ts';
import type { Vsftpd } from './support/vsftpd.ts';

const tmp = tempDir('ftp-full');
const disk = join(tmp.dir, 'rand.raw');
let ftp: RepoServer<Vsftpd>;
let fullDir = '';
const env: Record<string, string> = { VMBAK_PASSPHRASE: 'full pass' };

type BackupJson = { backupId: string | null; repo: string; events: string[] };

before(async () => {
  qemuImg('create', '-q', '-f', 'raw', disk, '24M');
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=24', 'conv=notrunc', 'status=none']);
  ftp = await ftpServer(false);
  fullDir = join(ftp.server.rootDir, 'data', 'small');
  await mkdir(fullDir);
  // Mounting needs root; under CI a failure fails the test (no skip).
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=755', 'tmpfs', fullDir]);
  const owner = await stat(join(ftp.server.rootDir, 'data'));
  await chown(fullDir, owner.uid, owner.gid);
}, { timeout: 60_000 });

after(async () => {
  try {
    execFileSync('umount', ['-l', fullDir]);
  } catch { /* not mounted */ }
  await ftp.stop();
  tmp.remove();
});

test('ftp target fills up mid-backup: TARGET_FULL names it and the backup fails over at once', { timeout: 120_000 }, async () => {
  const first = ftp.url('small/repo');
  const second = join(tmp.dir, 'repo-b');
  for (const repo of [first, second]) {
    const r = await vmbak(['repo', 'init', '--repo', repo, '--pack-size', '1M'], env);
    assert.equal(r.code, 0, r.stderr);
  }
  const r = await vmbak(['backup', '--repo', first, '--repo', second, '--image', disk, '--vm', 'rand', '--json', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  const j = jsonLine<BackupJson>(r);
  assert.equal(j.repo, second);
  const aboutFirst = j.events.filter((e) => e.includes(first));
  assert.ok(aboutFirst.some((e) => /is full/.test(e) && e.includes(`${first} is full`)), `the event names the full target: ${j.events.join(' | ')}`);
  assert.ok(!j.events.some((e) => /retrying/.test(e)), `no retries against a full target: ${j.events.join(' | ')}`);
});
