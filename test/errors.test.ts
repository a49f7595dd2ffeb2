// Bad input gets one clear line naming the problem and a non-zero exit, and nothing already
// stored is harmed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync, readFileSync, mkdirSync, readdirSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { vmbak, tempDir, qemuImg, qemuIo, sha256File, imageDigest, jsonLine, isCleanError } from './support/vmbak-cli.ts';

const tmp = tempDir('errors');
const repo = join(tmp.dir, 'repo');
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: repo };
const disk = join(tmp.dir, 'db.qcow2');
let backupId = '';

before(async () => {
  qemuImg('create', '-q', '-f', 'qcow2', disk, '32M');
  qemuIo(disk, 'qcow2', 'write -P 0x42 0 5M');
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  const b = await vmbak(['backup', '--image', disk, '--json'], env);
  assert.equal(b.code, 0, b.stderr);
  backupId = jsonLine<{ backupId: string }>(b).backupId;
});
after(() => tmp.remove());

async function stillRestores(): Promise<void> {
  const out = join(tmp.dir, `check-${Math.random().toString(36).slice(2)}`);
  const r = await vmbak(['restore', backupId, '--to', out, '--verify', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256File(join(out, 'db.raw')), imageDigest(disk, tmp.dir));
}

const cases: [string, () => Promise<{ args: string[]; env: NodeJS.ProcessEnv; expect: RegExp; code?: number }>][] = [
  ['wrong passphrase', async () => ({ args: ['backups', 'ls'], env: { ...env, VMBAK_PASSPHRASE: 'nope' }, expect: /wrong passphrase for repository/ })],
  ['missing repository', async () => ({ args: ['backups', 'ls', '--repo', join(tmp.dir, 'nowhere')], env, expect: /no vmbak repository at .*nowhere/ })],
  ['unknown backup id', async () => ({ args: ['restore', 'zzzzzzzz', '--to', join(tmp.dir, 'x')], env, expect: /no backup zzzzzzzz in/ })],
  ['a file that is not a disk image', async () => {
    const notImage = join(tmp.dir, 'notes.txt');
    writeFileSync(notImage, 'shopping list\n');
    return { args: ['backup', '--image', notImage], env, expect: /notes\.txt is not a disk image/ };
  }],
  ['a missing image', async () => ({ args: ['backup', '--image', join(tmp.dir, 'gone.qcow2')], env, expect: /gone\.qcow2 does not exist/ })],
  ['no passphrase at all', async () => ({ args: ['backups', 'ls'], env: { ...env, VMBAK_PASSPHRASE: undefined }, expect: /no passphrase/, code: 2 })],
  ['an unknown option', async () => ({ args: ['backup', '--frobnicate'], env, expect: /unknown option/, code: 2 })],
  ['a bad chunk size', async () => ({ args: ['repo', 'init', '--repo', join(tmp.dir, 'r2'), '--chunk-size', '3K'], env, expect: /--chunk-size 3K/, code: 2 })],
  ['a repository that exists', async () => ({ args: ['repo', 'init'], env, expect: /a repository already exists/ })],
  ['an unknown format version', async () => {
    const other = join(tmp.dir, 'future');
    mkdirSync(other);
    writeFileSync(join(other, 'config'), readFileSync(join(repo, 'config'), 'utf8').replace('"version": 1', '"version": 99'));
    return { args: ['backups', 'ls', '--repo', other], env, expect: /format version 99, this vmbak reads 1/ };
  }],
];

for (const [name, make] of cases) {
  test(`clear error: ${name}`, async () => {
    const c = await make();
    const r = await vmbak(c.args, c.env);
    assert.ok(isCleanError(r), `not one clean line (exit ${r.code}): ${r.stderr}`);
    assert.match(r.stderr, c.expect);
    if (c.code !== undefined) assert.equal(r.code, c.code);
    await stillRestores();
  });
}

test('clear error: a wrong passphrase on backup stops the qemu-nbd opened alongside the repository', async () => {
  // The images are opened while the repository's key is derived; a repository that cannot be
  // opened must still leave no qemu-nbd (nor its socket folder) behind. A temp folder of the
  // run's own keeps other test files' qemu-nbd out of the picture.
  const runTmp = join(tmp.dir, 'run-tmp');
  mkdirSync(runTmp);
  const r = await vmbak(['backup', '--image', disk], { ...env, VMBAK_PASSPHRASE: 'nope', TMPDIR: runTmp });
  assert.ok(isCleanError(r), r.stderr);
  assert.match(r.stderr, /wrong passphrase for repository/);
  assert.deepEqual(readdirSync(runTmp).filter((f) => f.startsWith('vmbak-qemu-nbd-')), [], 'no qemu-nbd socket folder left');
  assert.equal(spawnSync('pgrep', ['-f', `qemu-nbd.*${disk}`]).status, 1, 'no qemu-nbd left serving the image');
  await stillRestores();
});

test('clear error: truncated and garbage manifests are named, other backups unharmed', async () => {
  const second = jsonLine<{ backupId: string }>(await vmbak(['backup', '--image', disk, '--json'], env)).backupId;
  const manifest = join(repo, 'backups', second, 'manifest');
  const original = readFileSync(manifest);
  writeFileSync(manifest, original.subarray(0, original.length >> 1));
  let r = await vmbak(['restore', second, '--to', join(tmp.dir, 'trunc')], env);
  assert.ok(isCleanError(r), r.stderr);
  assert.match(r.stderr, new RegExp(`manifest of backup ${second} in .* is damaged`));
  writeFileSync(manifest, 'garbage');
  r = await vmbak(['restore', second, '--to', join(tmp.dir, 'garbage')], env);
  assert.ok(isCleanError(r), r.stderr);
  const ls = await vmbak(['backups', 'ls'], env);
  assert.equal(ls.code, 1, 'a listing with a damaged manifest does not report success');
  assert.match(ls.stdout, new RegExp(backupId));
  writeFileSync(manifest, original);
  await stillRestores();
});

test('clear error: a full target fails the backup and harms nothing stored', async (t) => {
  if (process.getuid?.() !== 0) {
    if (process.env.CI === 'true') assert.fail('the full-disk test needs root to mount a tmpfs');
    t.skip('needs root to mount a tmpfs');
    return;
  }
  const small = join(tmp.dir, 'small');
  mkdirSync(small);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', small]);
  try {
    const smallEnv = { ...env, VMBAK_REPO: join(small, 'repo') };
    assert.equal((await vmbak(['repo', 'init', '--pack-size', '1M'], smallEnv)).code, 0);
    const big = join(tmp.dir, 'big.raw');
    execFileSync('sh', ['-c', `head -c 8M /dev/urandom > ${big}`]);
    const r = await vmbak(['backup', '--image', big], smallEnv);
    assert.ok(isCleanError(r), r.stderr);
    assert.match(r.stderr, /target .*small\/repo is full/);
    const ls = await vmbak(['backups', 'ls', '--json'], smallEnv);
    assert.deepEqual(JSON.parse(ls.stdout), []);
  } finally {
    execFileSync('umount', ['-l', small]);
  }
});
