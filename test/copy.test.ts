// `vmbak copy` through the real command: a local repository copied to one on SFTP (sshd on
// loopback) under another passphrase; only missing chunks travel, a rerun skips what is
// there, a copy killed mid-way resumes without resending what landed, and the destination
// stays a complete repository (restore bit-identical, verify, check).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { vmbak, spawnVmbak, tempDir, qemuImg, sha256File, jsonLine, isCleanError, waitUntil, repoFiles } from './support/vmbak-cli.ts';
import { sftpServer, type RepoServer } from './support/repo-servers.ts';
import type { Sshd } from './support/sshd.ts';

const tmp = tempDir('copy');
const disk = join(tmp.dir, 'app.raw');
const source = join(tmp.dir, 'source');
let sftp: RepoServer<Sshd>;
let env: Record<string, string> = { VMBAK_PASSPHRASE: 'source pass', VMBAK_TO_PASSPHRASE: 'offsite pass' };
const digests = new Map<string, string>();

type Copied = { sourceBackupId: string; backupId: string; skipped: boolean; bytesRead: number; bytesSent: number; bytesVerified: number };

function randomize(offsetMiB: number, countMiB: number): void {
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', `seek=${offsetMiB}`, `count=${countMiB}`, 'conv=notrunc', 'status=none']);
}

async function ok(args: string[], extra: Record<string, string> = {}): Promise<string> {
  const r = await vmbak(args, { ...env, ...extra });
  assert.equal(r.code, 0, `vmbak ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function backupSource(): Promise<string> {
  const r = await vmbak(['backup', '--repo', source, '--image', disk, '--vm', 'app', '--json', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  const id = jsonLine<{ backupId: string }>(r).backupId;
  digests.set(id, sha256File(disk));
  return id;
}

const lines = (stdout: string): Copied[] => stdout.trim().split('\n').map((l) => JSON.parse(l) as Copied);

async function assertRestores(repo: string, backupId: string, sourceId: string): Promise<void> {
  const out = join(tmp.dir, `out-${Math.random().toString(36).slice(2)}`);
  await ok(['restore', backupId, '--repo', repo, '--to', out, '--verify', '--no-progress'], { VMBAK_PASSPHRASE: env.VMBAK_TO_PASSPHRASE! });
  assert.equal(sha256File(join(out, 'app.raw')), digests.get(sourceId));
}

before(async () => {
  qemuImg('create', '-q', '-f', 'raw', disk, '64M');
  randomize(0, 8);
  sftp = await sftpServer(join(tmp.dir, 'sftp'));
  env = { ...env, ...sftp.env };
  await ok(['repo', 'init', '--repo', source, '--pack-size', '2M']);
}, { timeout: 60_000 });

after(async () => {
  await sftp.stop();
  tmp.remove();
});

test('copy --all to SFTP: only missing chunks travel, reruns skip, the copy stands alone', { timeout: 120_000 }, async () => {
  const dest = sftp.url('offsite');
  await ok(['repo', 'init', '--repo', dest], { VMBAK_PASSPHRASE: env.VMBAK_TO_PASSPHRASE! });
  const first = await backupSource();
  randomize(2, 1);
  const second = await backupSource();

  const copied = lines(await ok(['copy', '--from', source, '--to', dest, '--all', '--json', '--no-progress']));
  assert.deepEqual(copied.map((c) => [c.sourceBackupId, c.skipped]), [[first, false], [second, false]]);
  assert.equal(copied[0]!.backupId, first, 'the same backup id when it is free');
  assert.ok(copied[0]!.bytesSent >= 8 << 20, `the first backup's data travels (${copied[0]!.bytesSent})`);
  assert.ok(copied[1]!.bytesSent <= 1 << 20, `only the changed MiB travels for the second (${copied[1]!.bytesSent})`);
  assert.equal(copied[1]!.bytesVerified, copied[1]!.bytesSent, 'what was written was read back');

  const again = lines(await ok(['copy', '--from', source, '--to', dest, '--all', '--json', '--no-progress']));
  assert.ok(again.every((c) => c.skipped), 'a rerun finds both backups there');

  const listed = JSON.parse(await ok(['backups', 'ls', '--repo', dest, '--json'], { VMBAK_PASSPHRASE: env.VMBAK_TO_PASSPHRASE! })) as { backupId: string }[];
  assert.deepEqual(listed.map((b) => b.backupId), [first, second]);
  await assertRestores(dest, first, first);
  await assertRestores(dest, 'app@latest', second);
  const destEnv = { VMBAK_PASSPHRASE: env.VMBAK_TO_PASSPHRASE! };
  assert.match(await ok(['verify', '--repo', dest, '--no-progress'], destEnv), /no problems/);
  assert.match(await ok(['check', '--repo', dest, '--read-data'], destEnv), /0 error\(s\)/);
  // An incremental backup straight into the copy builds on it.
  const next = jsonLine<{ bytesNew: number }>(await vmbak(['backup', '--repo', dest, '--image', disk, '--vm', 'app', '--json', '--no-progress'], { ...env, ...destEnv }));
  assert.equal(next.bytesNew, 0);
});

test('a copy killed mid-way resumes: the rerun sends only the rest', { timeout: 180_000 }, async () => {
  const destEnv = { VMBAK_PASSPHRASE: env.VMBAK_TO_PASSPHRASE! };
  // A bandwidth limit keeps the copy running long enough to kill it part of the way through.
  const dest = sftp.url('resume') + '?limitMBps=8';
  await ok(['repo', 'init', '--repo', dest, '--pack-size', '2M'], destEnv);
  randomize(0, 48);
  const big = await backupSource();
  const child = spawnVmbak(['copy', '--from', source, '--to', dest, big, '--json', '--no-progress'], env);
  const closed = new Promise((resolve) => child.once('close', resolve));
  // Killed once a few of its ~24 packs have landed (the SFTP server's folder is local).
  await waitUntil('three packs copied', () => repoFiles(join(tmp.dir, 'sftp', 'resume'), 'index').length >= 3, 60_000);
  child.kill('SIGKILL');
  await closed;
  // Nothing half-written is visible: no backup in the destination, and it checks out.
  assert.equal((JSON.parse(await ok(['backups', 'ls', '--repo', dest, '--json'], destEnv)) as unknown[]).length, 0);
  assert.match(await ok(['check', '--repo', dest], destEnv), /0 error\(s\)/);

  const resumed = lines(await ok(['copy', '--from', source, '--to', dest, big, '--json', '--no-progress']));
  assert.equal(resumed.length, 1);
  assert.ok(resumed[0]!.bytesSent > 0 && resumed[0]!.bytesSent < 44 << 20, `the rerun sends only the rest (${resumed[0]!.bytesSent} of 48 MiB)`);
  await assertRestores(dest, resumed[0]!.backupId, big);
  assert.match(await ok(['check', '--repo', dest], destEnv), /0 error\(s\)/);
});

test('copy by --vm between unencrypted repositories, --dry-run, and refusals', { timeout: 60_000 }, async () => {
  const a = join(tmp.dir, 'plain-a');
  const b = join(tmp.dir, 'plain-b');
  await ok(['repo', 'init', '--repo', a, '--no-encryption']);
  await ok(['repo', 'init', '--repo', b, '--no-encryption']);
  await ok(['backup', '--repo', a, '--image', disk, '--vm', 'app', '--no-progress']);
  const plan = await ok(['copy', '--from', a, '--to', b, '--vm', 'app', '--dry-run']);
  assert.match(plan, /^would copy \w+ of app$/m);
  assert.equal((JSON.parse(await ok(['backups', 'ls', '--repo', b, '--json'])) as unknown[]).length, 0);
  const copied = lines(await ok(['copy', '--from', a, '--to', b, '--vm', 'app', '--json']));
  assert.equal(copied.length, 1);
  assert.equal(copied[0]!.skipped, false);
  assert.match(await ok(['verify', '--repo', b, '--no-progress']), /no problems/);

  const same = await vmbak(['copy', '--from', a, '--to', a, '--all'], env);
  assert.ok(isCleanError(same) && /same repository/.test(same.stderr), same.stderr);
  const none = await vmbak(['copy', '--from', a, '--to', b], env);
  assert.ok(isCleanError(none) && none.code === 2, none.stderr);
  const wrong = await vmbak(['copy', '--from', source, '--to', b, '--all'], { ...env, VMBAK_PASSPHRASE: 'not it' });
  assert.ok(isCleanError(wrong) && /wrong passphrase/.test(wrong.stderr), wrong.stderr);
});
