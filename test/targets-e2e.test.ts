// Every repository command on every target type: one scenario — init, two backups (the
// second stores nothing new), ls, restore --verify bit-identical, verify, prune, gc, check —
// run through the real `vmbak` command against a local directory, SFTP (OpenSSH sshd), FTP and
// FTPS (vsftpd) and S3 (Ceph radosgw), all started on loopback by this file. Then `vmbak copy`
// from the local repository to each remote one, and a restore from the copy.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { vmbak, tempDir, qemuImg, qemuIo, imageDigest, sha256File, jsonLine } from './support/vmbak-cli.ts';
import { sftpServer, ftpServer, s3Server, type RepoServer } from './support/repo-servers.ts';

const tmp = tempDir('targets-e2e');
const sys = join(tmp.dir, 'vm1-sys.qcow2');
const data = join(tmp.dir, 'vm1-data.raw');
const servers: RepoServer<unknown>[] = [];
let env: Record<string, string> = { VMBAK_PASSPHRASE: 'e2e pass' };
const urls: Record<string, (name: string) => string> = { local: (name) => join(tmp.dir, name) };
let sysDigest = '';
let dataDigest = '';

before(async () => {
  qemuImg('create', '-q', '-f', 'qcow2', sys, '24M');
  qemuIo(sys, 'qcow2', 'write -P 0xa1 0 3M', 'write -P 0x5c 10M 2M');
  qemuImg('create', '-q', '-f', 'raw', data, '8M');
  // Random bytes so packs fill and several are written (pack size 1M below).
  execFileSync('dd', ['if=/dev/urandom', `of=${data}`, 'bs=1M', 'seek=1', 'count=3', 'conv=notrunc', 'status=none']);
  sysDigest = imageDigest(sys, tmp.dir);
  dataDigest = imageDigest(data, tmp.dir);
  const started = await Promise.all([sftpServer(join(tmp.dir, 'sftp')), ftpServer(false), ftpServer(true), s3Server()]);
  const [sftp, ftp, ftps, s3] = started;
  servers.push(...started);
  urls.sftp = sftp.url;
  urls.ftp = ftp.url;
  urls.ftps = ftps.url;
  urls.s3 = s3.url;
  for (const s of started) env = { ...env, ...s.env };
}, { timeout: 120_000 });

after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  tmp.remove();
}, { timeout: 60_000 });

type BackupJson = { backupId: string; bytesRead: number; bytesNew: number; repo: string };

async function ok(args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  const r = await vmbak([...args], { ...env, ...extraEnv });
  assert.equal(r.code, 0, `vmbak ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function restoreAndCompare(repo: string, ref: string): Promise<void> {
  const out = join(tmp.dir, `out-${Math.random().toString(36).slice(2)}`);
  await ok(['restore', ref, '--repo', repo, '--to', out, '--verify', '--no-progress']);
  assert.equal(sha256File(join(out, 'vm1-sys.raw')), sysDigest);
  assert.equal(sha256File(join(out, 'vm1-data.raw')), dataDigest);
}

async function backup(repo: string): Promise<BackupJson> {
  const r = await vmbak(['backup', '--repo', repo, '--image', sys, '--image', data, '--vm', 'vm1', '--json', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  return jsonLine<BackupJson>(r);
}

async function scenario(kind: string): Promise<void> {
  const repo = urls[kind]!(`repo-${kind}`);
  await ok(['repo', 'init', '--repo', repo, '--pack-size', '1M']);
  const first = await backup(repo);
  assert.ok(first.bytesNew >= 3 << 20, `first backup stores the data (${first.bytesNew})`);
  const second = await backup(repo);
  assert.equal(second.bytesNew, 0, 'the second backup stores nothing new');

  const listed = JSON.parse(await ok(['backups', 'ls', '--repo', repo, '--json'])) as { backupId: string }[];
  assert.deepEqual(listed.map((b) => b.backupId), [first.backupId, second.backupId]);

  await restoreAndCompare(repo, first.backupId);
  assert.match(await ok(['verify', '--repo', repo, '--no-progress']), /verified 2 backup\(s\).*no problems/);
  assert.match(await ok(['prune', '--repo', repo, '--keep-last', '1']), /1 kept, 1 removed/);
  await ok(['gc', '--repo', repo]);
  assert.match(await ok(['check', '--repo', repo, '--read-data']), /0 error\(s\)/);
  await restoreAndCompare(repo, 'latest');
}

for (const kind of ['local', 'sftp', 'ftp', 'ftps', 's3']) {
  test(`every repository command on ${kind}`, { timeout: 180_000 }, () => scenario(kind));
}

for (const kind of ['ftps', 's3']) {
  test(`copy from a local repository to ${kind}, restore and verify there`, { timeout: 120_000 }, async () => {
    const from = urls.local!('repo-local');
    const to = urls[kind]!(`copy-${kind}`);
    const toEnv = { VMBAK_PASSPHRASE: 'copy pass', VMBAK_TO_PASSPHRASE: 'copy pass' };
    await ok(['repo', 'init', '--repo', to], toEnv);
    const copied = (await ok(['copy', '--from', from, '--to', to, '--all', '--json', '--no-progress'], { VMBAK_TO_PASSPHRASE: 'copy pass' }))
      .trim().split('\n').map((l) => JSON.parse(l) as { backupId: string; skipped: boolean; bytesSent: number });
    assert.equal(copied.length, 1);
    assert.ok(copied[0]!.bytesSent >= 3 << 20);
    const out = join(tmp.dir, `out-copy-${kind}`);
    await ok(['restore', 'latest', '--repo', to, '--to', out, '--verify', '--no-progress'], toEnv);
    assert.equal(sha256File(join(out, 'vm1-sys.raw')), sysDigest);
    assert.equal(sha256File(join(out, 'vm1-data.raw')), dataDigest);
    assert.match(await ok(['verify', '--repo', to, '--no-progress'], toEnv), /no problems/);
  });
}
