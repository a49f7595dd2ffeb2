// `vmbak backup --copy-to`: the same backup written to a second repository from one read of
// the VM. The copy restores bit-identically and checks out on its own; a copy target that dies
// mid-backup (dropped connections, injected) or fills up (small tmpfs) does not stop the primary backup: it
// completes, `copies` says the copy is missing, the exit code is 3, and the copy repository
// refers to nothing half-written.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { vmbak, tempDir, qemuImg, sha256File, jsonLine } from './support/vmbak-cli.ts';
import { sftpServer, type RepoServer } from './support/repo-servers.ts';
import { mountSmallTmpfs } from './support/tmpfs.ts';
import type { Sshd } from './support/sshd.ts';

const tmp = tempDir('fan-out');
const disk = join(tmp.dir, 'vm.raw');
const primary = join(tmp.dir, 'primary');
let sftp: RepoServer<Sshd>;
let env: Record<string, string> = { VMBAK_PASSPHRASE: 'primary pass', VMBAK_TO_PASSPHRASE: 'copy pass' };
const copyEnv = { VMBAK_PASSPHRASE: 'copy pass' };

type Copy = { repo: string; ok: boolean; error: string | null; backupId: string | null };
type BackupJson = { backupId: string; repo: string; bytesRead: number; copies: Copy[]; events: string[] };

function randomize(countMiB: number): void {
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', `count=${countMiB}`, 'conv=notrunc', 'status=none']);
}

async function ok(args: string[], extra: Record<string, string> = {}): Promise<string> {
  const r = await vmbak(args, { ...env, ...extra });
  assert.equal(r.code, 0, `vmbak ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function restoredDigest(repo: string, ref: string, extra: Record<string, string> = {}): Promise<string> {
  const out = join(tmp.dir, `out-${Math.random().toString(36).slice(2)}`);
  await ok(['restore', ref, '--repo', repo, '--to', out, '--verify', '--no-progress'], extra);
  return sha256File(join(out, 'vm.raw'));
}

before(async () => {
  qemuImg('create', '-q', '-f', 'raw', disk, '48M');
  randomize(6);
  sftp = await sftpServer(join(tmp.dir, 'sftp'));
  env = { ...env, ...sftp.env };
  await ok(['repo', 'init', '--repo', primary]);
}, { timeout: 60_000 });

after(async () => {
  await sftp.stop();
  tmp.remove();
});

test('--copy-to SFTP writes the same backup to both repositories from one read', { timeout: 90_000 }, async () => {
  const copy = sftp.url('copy');
  await ok(['repo', 'init', '--repo', copy], copyEnv);
  const r = await vmbak(['backup', '--repo', primary, '--copy-to', copy, '--image', disk, '--vm', 'vm', '--json', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  const j = jsonLine<BackupJson>(r);
  assert.deepEqual(j.copies, [{ repo: copy, ok: true, error: null, backupId: j.backupId }]);
  assert.ok(j.bytesRead <= 7 << 20, `the VM is read once (${j.bytesRead})`);
  const want = sha256File(disk);
  assert.equal(await restoredDigest(copy, j.backupId, copyEnv), want);
  assert.equal(await restoredDigest(primary, j.backupId), want);
  assert.match(await ok(['verify', '--repo', copy, '--no-progress'], copyEnv), /no problems/);
  assert.match(await ok(['check', '--repo', copy], copyEnv), /0 error\(s\)/);
});

test('copy target dropping its connections mid-backup: the primary completes, the copy is reported missing, exit 3', { timeout: 120_000 }, async () => {
  const copy = sftp.url('dying');
  await ok(['repo', 'init', '--repo', copy], copyEnv);
  const earlier = jsonLine<BackupJson>({ code: 0, signal: null, stderr: '', stdout: await ok(['backup', '--repo', primary, '--copy-to', copy, '--image', disk, '--vm', 'vm', '--json', '--no-progress']) });
  randomize(40);
  // The copy target's connection drops from its second pack upload on (the fault wrapper, not a
  // killed server: the point is how the backup reacts).
  const faults = [{ op: 'put', target: 'dying', match: 'packs/', from: 2, action: 'drop' }];
  const { code, stdout, stderr } = await vmbak(['backup', '--repo', primary, '--copy-to', copy, '--image', disk, '--vm', 'vm', '--json', '--no-progress'], { ...env, VMBAK_TEST_FAULTS: JSON.stringify(faults) });
  assert.equal(code, 3, stderr);
  assert.match(stderr, /completed with warnings/);
  const j = jsonLine<BackupJson>({ code, signal: null, stdout, stderr });
  assert.equal(j.repo, primary);
  assert.equal(j.copies.length, 1);
  assert.equal(j.copies[0]!.ok, false);
  assert.match(j.copies[0]!.error ?? '', /sftp:\/\/.*connection reset/);
  assert.equal(await restoredDigest(primary, j.backupId), sha256File(disk));

  const listed = JSON.parse(await ok(['backups', 'ls', '--repo', copy, '--json'], copyEnv)) as { backupId: string }[];
  assert.deepEqual(listed.map((b) => b.backupId), [earlier.backupId], 'the copy repository holds only the complete earlier backup');
  assert.match(await ok(['check', '--repo', copy], copyEnv), /0 error\(s\)/);
});

test('copy target full (small tmpfs): the primary completes, exit 3, nothing referenced on the copy', { timeout: 90_000 }, async (t) => {
  const fs = await mountSmallTmpfs(8);
  if (!fs) return t.skip('cannot mount tmpfs');
  try {
    const copy = join(fs.dir, 'copy');
    await ok(['repo', 'init', '--repo', copy], copyEnv);
    randomize(30);
    const r = await vmbak(['backup', '--repo', primary, '--copy-to', copy, '--image', disk, '--vm', 'vm', '--json', '--no-progress'], env);
    assert.equal(r.code, 3, r.stderr);
    const j = jsonLine<BackupJson>(r);
    assert.equal(j.copies[0]!.ok, false);
    assert.match(j.copies[0]!.error ?? '', /full/);
    assert.equal(await restoredDigest(primary, j.backupId), sha256File(disk));
    assert.equal((JSON.parse(await ok(['backups', 'ls', '--repo', copy, '--json'], copyEnv)) as unknown[]).length, 0);
  } finally {
    await fs.unmount();
  }
});
