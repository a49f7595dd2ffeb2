// Unchanged image files for free: a second backup of an image whose size, mtime, ctime and
// inode are the ones the previous backup recorded reuses its disk index without reading —
// qemu-nbd is not even started — and restores bit-identically. A touched image, a changed
// byte, a change whose mtime was put back (ctime still moves) and --force-read all read.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chmodSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { vmbak, tempDir, sha256File, jsonLine } from './support/vmbak-cli.ts';

const tmp = tempDir('unchanged');
const image = join(tmp.dir, 'app01.raw');
const nbdLog = join(tmp.dir, 'qemu-nbd.log');
const shimDir = join(tmp.dir, 'bin');
// A qemu-nbd that notes each start, so the test sees whether a skipped disk started one.
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), PATH: `${shimDir}:${process.env.PATH}` };
const SIZE = 256 << 20;

type Disk = { name: string; bytesRead: number; read: string; readReason: string | null };
type BackupJson = { backupId: string; bytesRead: number; incremental: boolean; disks: Disk[] };

before(() => {
  mkdirSync(shimDir);
  const real = execFileSync('sh', ['-c', 'command -v qemu-nbd'], { encoding: 'utf8' }).trim();
  writeFileSync(join(shimDir, 'qemu-nbd'), `#!/bin/sh\necho start >> '${nbdLog}'\nexec '${real}' "$@"\n`);
  chmodSync(join(shimDir, 'qemu-nbd'), 0o755);
  const fd = openSync(image, 'w');
  for (let off = 0; off < SIZE; off += 16 << 20) writeSync(fd, randomBytes(16 << 20));
  closeSync(fd);
});
after(() => tmp.remove());

function nbdStarts(): number {
  try { return readFileSync(nbdLog, 'utf8').split('\n').filter(Boolean).length; } catch { return 0; }
}

async function backup(...extra: string[]): Promise<{ json: BackupJson; disk: Disk; nbdStarted: number }> {
  const startsBefore = nbdStarts();
  const r = await vmbak(['backup', '--image', image, '--json', '--no-progress', ...extra], env);
  assert.equal(r.code, 0, r.stderr);
  const json = jsonLine<BackupJson>(r);
  return { json, disk: json.disks[0]!, nbdStarted: nbdStarts() - startsBefore };
}

/** Facts taken within a second of a write are not trusted (racy clean): let the write age. */
const settle = () => sleep(1100);

test('an unchanged image is skipped; touched, changed or mtime-restored images and --force-read are read', async () => {
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  await settle();
  const first = await backup();
  assert.equal(first.disk.read, 'read');
  assert.equal(first.disk.readReason, 'first backup');
  assert.equal(first.disk.bytesRead, SIZE);
  assert.equal(first.nbdStarted, 1);

  const unchanged = await backup();
  assert.equal(unchanged.disk.read, 'skipped');
  assert.equal(unchanged.disk.bytesRead, 0);
  assert.equal(unchanged.json.bytesRead, 0);
  assert.equal(unchanged.nbdStarted, 0, 'qemu-nbd is not started for a skipped disk');
  assert.match(unchanged.disk.readReason!, new RegExp(`^image unchanged since backup ${first.json.backupId} \\(size, mtime, ctime, inode\\)$`));
  const out = join(tmp.dir, 'out');
  const restored = await vmbak(['restore', unchanged.json.backupId, '--to', out, '--verify'], env);
  assert.equal(restored.code, 0, restored.stderr);
  assert.equal(sha256File(join(out, 'app01.raw')), sha256File(image), 'the skipped backup restores bit-identically');

  execFileSync('touch', [image]);
  await settle();
  const touched = await backup();
  assert.equal(touched.disk.read, 'read');
  assert.match(touched.disk.readReason!, /^image changed: mtime, ctime$/);
  assert.equal(touched.disk.bytesRead, SIZE);

  // One byte changed, then mtime put back as a tool might: ctime still tells.
  const oldMtimeNs = statSync(image, { bigint: true }).mtimeNs;
  const fd = openSync(image, 'r+');
  writeSync(fd, Buffer.from([0x5a ^ 0xff]), 0, 1, 12345);
  closeSync(fd);
  execFileSync('touch', ['-d', `@${oldMtimeNs / 1_000_000_000n}.${(oldMtimeNs % 1_000_000_000n).toString().padStart(9, '0')}`, image]);
  assert.equal(statSync(image, { bigint: true }).mtimeNs, oldMtimeNs);
  await settle();
  const restoredMtime = await backup();
  assert.equal(restoredMtime.disk.read, 'read');
  assert.equal(restoredMtime.disk.readReason, 'image changed: ctime');
  assert.equal(restoredMtime.disk.bytesRead, SIZE);

  const again = await backup();
  assert.equal(again.disk.read, 'skipped');
  const forced = await backup('--force-read');
  assert.equal(forced.disk.read, 'read');
  assert.equal(forced.disk.readReason, '--force-read');
  assert.equal(forced.disk.bytesRead, SIZE);
  assert.equal(forced.nbdStarted, 1);
});
