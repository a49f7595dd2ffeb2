// Failover and load balancing through the real `vmbak backup` with several --repo targets:
// connections dropping mid-backup (retries with backoff, then a full read into the next target, the
// report says so, nothing half-written is referenced on the first target), a target that
// refuses connections from the start, and --spread pinning each VM to a stable primary.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { vmbak, tempDir, qemuImg, sha256File, jsonLine } from './support/vmbak-cli.ts';
import { sftpServer, type RepoServer } from './support/repo-servers.ts';
import { findFreePort } from './support/free-port.ts';
import type { Sshd } from './support/sshd.ts';

const tmp = tempDir('failover');
const disk = join(tmp.dir, 'big.raw');
let sftp: RepoServer<Sshd>;
let env: Record<string, string> = { VMBAK_PASSPHRASE: 'fo pass' };

type BackupJson = { backupId: string | null; repo: string; bytesRead: number; bytesNew: number; incremental: boolean; events: string[]; error?: string };

before(async () => {
  qemuImg('create', '-q', '-f', 'raw', disk, '64M');
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=48', 'conv=notrunc', 'status=none']);
  sftp = await sftpServer(join(tmp.dir, 'sftp'));
  env = { ...env, ...sftp.env };
}, { timeout: 60_000 });

after(async () => {
  await sftp.stop();
  tmp.remove();
});

async function ok(args: string[]): Promise<string> {
  const r = await vmbak(args, env);
  assert.equal(r.code, 0, `vmbak ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

test('first target dropping its connections mid-backup: retries, fails over with a full read, first target stays consistent', { timeout: 120_000 }, async () => {
  const first = sftp.url('repo-a');
  const second = join(tmp.dir, 'repo-b');
  await ok(['repo', 'init', '--repo', first, '--pack-size', '4M']);
  await ok(['repo', 'init', '--repo', second, '--pack-size', '4M']);
  // One earlier backup on the first target, which must stay intact.
  const earlier = jsonLine<BackupJson>({ code: 0, signal: null, stderr: '', stdout: await ok(['backup', '--repo', first, '--image', disk, '--vm', 'big', '--json', '--no-progress']) });
  execFileSync('dd', ['if=/dev/urandom', `of=${disk}`, 'bs=1M', 'count=40', 'conv=notrunc', 'status=none']);

  // From its third pack upload on, every upload to the first target loses its connection (the
  // fault wrapper: the point is the client's reaction, not how sshd dies).
  const faults = [{ op: 'put', target: 'repo-a', match: 'packs/', from: 3, action: 'drop' }];
  const { code, stdout, stderr } = await vmbak(['backup', '--repo', first, '--repo', second, '--image', disk, '--vm', 'big', '--json', '--no-progress'], { ...env, VMBAK_TEST_FAULTS: JSON.stringify(faults) });
  assert.equal(code, 0, stderr);
  const j = jsonLine<BackupJson>({ code, signal: null, stdout, stderr });
  assert.equal(j.repo, second);
  assert.equal(j.incremental, false);
  assert.ok(j.bytesRead >= 40 << 20, `a full read on the next target (${j.bytesRead})`);
  assert.ok(j.events.some((e) => /retrying/.test(e)), `events tell of retries: ${j.events.join(' | ')}`);
  assert.ok(j.events.some((e) => e.startsWith(`backed up to ${second} after`)), `events tell of the failover: ${j.events.join(' | ')}`);
  assert.match(stderr, /failed/);

  const out = join(tmp.dir, 'out-b');
  await ok(['restore', j.backupId!, '--repo', second, '--to', out, '--verify', '--no-progress']);
  assert.equal(sha256File(join(out, 'big.raw')), sha256File(disk));

  // Back on the first target: only the earlier backup exists, and the repository checks out.
  const listed = JSON.parse(await ok(['backups', 'ls', '--repo', first, '--json'])) as { backupId: string }[];
  assert.deepEqual(listed.map((b) => b.backupId), [earlier.backupId]);
  assert.match(await ok(['check', '--repo', first]), /0 error\(s\)/);
  assert.match(await ok(['verify', '--repo', first, '--no-progress']), /no problems/);
});

test('first target refusing connections from the start: the backup lands on the second', { timeout: 60_000 }, async () => {
  const port = await findFreePort();
  const dead = `sftp://root@127.0.0.1:${port}${tmp.dir}/nowhere`;
  const second = join(tmp.dir, 'repo-c');
  await ok(['repo', 'init', '--repo', second]);
  const r = await vmbak(['backup', '--repo', dead, '--repo', second, '--image', disk, '--vm', 'big', '--json', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  const j = jsonLine<BackupJson>(r);
  assert.equal(j.repo, second);
  assert.ok(j.events.some((e) => e.includes(`127.0.0.1:${port}`) && /unreachable/.test(e)), j.events.join(' | '));
  assert.ok(j.events.some((e) => e.startsWith(`backed up to ${second} after`)));
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
});

test('--spread: each VM keeps a stable primary across runs and both targets get VMs', { timeout: 120_000 }, async () => {
  // Fixed locations make the rendezvous ranking (VM key × location) the same in every run of this test.
  const base = join(tmpdir(), 'vmbak-test-spread-fixed');
  rmSync(base, { recursive: true, force: true });
  const targets = [join(base, 'a'), join(base, 'b')];
  try {
    for (const t of targets) await ok(['repo', 'init', '--repo', t]);
    const small = join(tmp.dir, 'small.raw');
    qemuImg('create', '-q', '-f', 'raw', small, '4M');
    execFileSync('dd', ['if=/dev/urandom', `of=${small}`, 'bs=1M', 'count=1', 'conv=notrunc', 'status=none']);
    const vms = ['web01', 'web02', 'db01', 'cache01'];
    const runs: Record<string, string>[] = [];
    for (let run = 0; run < 2; run++) {
      const placed: Record<string, string> = {};
      for (const vm of vms) {
        const r = await vmbak(['backup', '--spread', ...targets.flatMap((t) => ['--repo', t]), '--image', small, '--vm', vm, '--json', '--no-progress'], env);
        assert.equal(r.code, 0, r.stderr);
        placed[vm] = jsonLine<BackupJson>(r).repo;
      }
      runs.push(placed);
    }
    assert.deepEqual(runs[1], runs[0], 'each VM goes to the same primary run after run');
    const used = new Set(Object.values(runs[0]!));
    assert.equal(used.size, 2, `both targets hold VMs: ${JSON.stringify(runs[0])}`);
    // The second run is an incremental on the same chain: nothing new stored.
    for (const t of targets) {
      const listed = JSON.parse(await ok(['backups', 'ls', '--repo', t, '--json'])) as { vm: string }[];
      for (const vm of vms.filter((v) => runs[0]![v] === t)) assert.equal(listed.filter((b) => b.vm === vm).length, 2);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
