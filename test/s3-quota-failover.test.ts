// A full S3 store during a real `vmbak backup` with a second --repo: Ceph radosgw on loopback
// whose bucket has a 10 MiB quota, a 24 MiB image of random bytes, 4 MiB packs. radosgw
// refuses the pack that would pass the quota with 403 QuotaExceeded; the backup reports the
// S3 target as full, moves to the local repository at once (no retries against a full store)
// and completes there, and what the S3 repository kept is consistent (`vmbak check` passes).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { vmbak, tempDir, qemuImg, jsonLine, sha256File } from './support/vmbak-cli.ts';
import { s3Server, type RepoServer } from './support/repo-servers.ts';
import type { Radosgw } from './support/radosgw.ts';

const MiB = 1024 * 1024;
const BUCKET = 'vmbak-quota-e2e';
const tmp = tempDir('s3-full');
const disk = join(tmp.dir, 'rand.raw');
let s3: RepoServer<Radosgw>;
let env: Record<string, string> = { VMBAK_PASSPHRASE: 'quota pass' };

type BackupJson = { backupId: string | null; repo: string; events: string[]; code?: string };
type CheckJson = { errors: string[]; warnings: string[]; packsChecked: number; backupsChecked: number };

before(async () => {
  qemuImg('create', '-q', '-f', 'raw', disk, '24M');
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=24', 'conv=notrunc', 'status=none']);
  // Under CI a radosgw that cannot start fails the test (no skip).
  s3 = await s3Server(BUCKET);
  env = { ...env, ...s3.env };
}, { timeout: 120_000 });

after(async () => {
  await s3?.stop();
  tmp.remove();
}, { timeout: 30_000 });

test('s3 quota reached mid-backup: TARGET_FULL names the S3 target, the backup fails over at once, check passes', { timeout: 180_000 }, async () => {
  const first = s3.url('repo');
  const second = join(tmp.dir, 'repo-b');
  for (const repo of [first, second]) {
    const r = await vmbak(['repo', 'init', '--repo', repo, '--pack-size', '4M'], env);
    assert.equal(r.code, 0, r.stderr);
  }
  // Set after init so the gateway has to count what is already stored.
  await s3.server.setQuota(10 * MiB, BUCKET);
  const started = Date.now();
  const r = await vmbak(['backup', '--repo', first, '--repo', second, '--image', disk, '--vm', 'rand', '--json', '--no-progress'], env);
  const tookMs = Date.now() - started;
  assert.equal(r.code, 0, r.stderr);
  const j = jsonLine<BackupJson>(r);
  assert.equal(j.repo, second);
  assert.ok(j.backupId);
  const all = j.events.join(' | ');
  assert.ok(j.events.some((e) => e.startsWith(`${first} failed: target ${first} is full: QuotaExceeded`)), `the event names the full S3 target: ${all}`);
  assert.ok(!j.events.some((e) => /retrying|attempt/.test(e)), `no retries against a full target: ${all}`);
  assert.ok(!j.events.some((e) => /unreachable|refused access|I\/O error/.test(e)), `the quota is not mistaken for another failure: ${all}`);
  process.stderr.write(`# backup with failover took ${tookMs} ms\n`);

  const out = join(tmp.dir, 'out');
  const restored = await vmbak(['restore', 'rand@latest', '--repo', second, '--to', out, '--verify', '--no-progress'], env);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(sha256File(join(out, 'rand.raw')), sha256File(disk));

  // The full repository holds no backup and nothing that refers to a missing object.
  const ls = await vmbak(['backups', 'ls', '--repo', first, '--json'], env);
  assert.equal(ls.code, 0, ls.stderr);
  assert.deepEqual(JSON.parse(ls.stdout), []);
  const check = await vmbak(['check', '--repo', first, '--json'], env);
  assert.equal(check.code, 0, `${check.stdout}${check.stderr}`);
  const report = JSON.parse(check.stdout) as CheckJson;
  assert.deepEqual(report.errors, []);
  for (const w of report.warnings) assert.match(w, /has no index \(left by an interrupted backup/);
  process.stderr.write(`# full repository after the refused backup: ${report.packsChecked} pack(s), ${report.warnings.length} warning(s)\n`);
});
