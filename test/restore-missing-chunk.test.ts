// A restore whose backup needs a chunk the repository no longer has (its pack and pack index
// deleted behind vmbak's back) fails with one line naming the chunk, the backup, the disk and
// the offset, and leaves nothing under the output directory — not the image, not its
// temporary file — while the rest of the backup's chunks are still there.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { vmbak, tempDir, jsonLine } from './support/vmbak-cli.ts';

const tmp = tempDir('restore-missing');
after(() => tmp.remove());

test('a chunk missing from the repository fails the restore with one line and leaves no partial image', async () => {
  const repo = join(tmp.dir, 'repo');
  const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: repo };
  const image = join(tmp.dir, 'disk.img');
  // 600 MiB logical. The first backup holds random data at the start (its own pack); the
  // second adds data near the end (a second pack), which is then deleted.
  const fd = openSync(image, 'w');
  ftruncateSync(fd, 600 << 20);
  writeSync(fd, randomBytes(2 << 20), 0, 2 << 20, 0);
  closeSync(fd);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  const first = await vmbak(['backup', '--image', image, '--vm', 'gappy', '--no-progress'], env);
  assert.equal(first.code, 0, first.stderr);
  const packsBefore = new Set(readdirSync(join(repo, 'index')));
  const fd2 = openSync(image, 'r+');
  writeSync(fd2, randomBytes(2 << 20), 0, 2 << 20, 590 << 20);
  closeSync(fd2);
  const backup = await vmbak(['backup', '--image', image, '--vm', 'gappy', '--no-progress', '--json'], env);
  assert.equal(backup.code, 0, backup.stderr);
  const { backupId } = jsonLine<{ backupId: string }>(backup);
  const added = readdirSync(join(repo, 'index')).filter((p) => !packsBefore.has(p));
  assert.equal(added.length, 1, `the second backup wrote ${added.length} packs`);
  rmSync(join(repo, 'index', added[0]!));
  rmSync(join(repo, 'packs', added[0]!.slice(0, 2), added[0]!));

  const out = join(tmp.dir, 'out');
  mkdirSync(out);
  const r = await vmbak(['restore', backupId, '--to', out, '--format', 'raw', '--no-progress'], { ...env, VMBAK_CACHE_DIR: join(tmp.dir, 'cache') });
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, new RegExp(`chunk [0-9a-f]{16} of backup ${backupId}, disk disk at offset \\d+ is missing from`));
  assert.deepEqual(readdirSync(out), []);
});
