// The local chunk cache through the real `vmbak` command: after gc deletes a pack the next
// backup stores its chunks again (the cache never vouches for a deleted pack), a damaged
// cache file is rebuilt silently, and an unusable cache directory costs one warning, not the
// backup.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { vmbak, tempDir, jsonLine, sha256File } from './support/vmbak-cli.ts';

const tmp = tempDir('chunk-cache');
after(() => tmp.remove());
const cacheDir = join(tmp.dir, 'cache');
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_CACHE_DIR: cacheDir };
const image = join(tmp.dir, 'disk.raw');
type BackupJson = { backupId: string; bytesNew: number };

async function ok(args: string[], extra: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await vmbak(args, { ...env, ...extra });
  assert.equal(r.code, 0, `vmbak ${args.join(' ')}: ${r.stderr}`);
  return r;
}

async function backup(extra: Record<string, string> = {}): Promise<BackupJson & { stderr: string }> {
  const r = await ok(['backup', '--image', image, '--vm', 'app', '--json', '--no-progress'], extra);
  return { ...jsonLine<BackupJson>({ ...r, code: 0, signal: null }), stderr: r.stderr };
}

async function restoresExactly(backupId: string, expected: string): Promise<void> {
  const out = join(tmp.dir, `restore-${backupId}`);
  await ok(['restore', backupId, '--to', out, '--verify', '--no-progress']);
  const [file] = readdirSync(out);
  assert.equal(sha256File(join(out, file!)), expected);
  rmSync(out, { recursive: true, force: true });
}

test('gc, a damaged cache, an unusable cache directory: backups stay right', { timeout: 300_000 }, async () => {
  await ok(['repo', 'init', '--pack-size', '1M']);
  const first = randomBytes(4 << 20);
  writeFileSync(image, first);
  const a = await backup();
  assert.ok(a.bytesNew >= 4 << 20);
  assert.equal(a.stderr, '');
  const cacheFiles = readdirSync(cacheDir).filter((f) => f.endsWith('.sqlite'));
  assert.equal(cacheFiles.length, 1, 'one cache for the repository');

  // New content; the first backup is pruned and gc deletes the packs only it used.
  writeFileSync(image, randomBytes(4 << 20));
  const b = await backup();
  assert.ok(b.bytesNew >= 4 << 20);
  await ok(['prune', '--keep-last', '1']);
  await ok(['gc']);

  // The first content again: its chunks were deleted, so they must be stored again.
  writeFileSync(image, first);
  const c = await backup();
  assert.ok(c.bytesNew >= 4 << 20, `chunks gc deleted are stored again (${c.bytesNew} bytes new)`);
  await restoresExactly(c.backupId, sha256File(image));

  // A damaged cache file is rebuilt without a word, and deduplication goes on.
  const cachePath = join(cacheDir, cacheFiles[0]!);
  for (const suffix of ['-wal', '-shm']) rmSync(cachePath + suffix, { force: true });
  writeFileSync(cachePath, randomBytes(16384));
  const d = await backup();
  assert.equal(d.bytesNew, 0, 'unchanged data is found in the rebuilt cache');
  assert.equal(d.stderr, '');
  assert.equal(readFileSync(cachePath).subarray(0, 15).toString(), 'SQLite format 3');
  await restoresExactly(d.backupId, sha256File(image));

  // An unusable cache directory: one warning, then the in-memory table does the job.
  writeFileSync(join(tmp.dir, 'a-file'), '');
  const e = await backup({ VMBAK_CACHE_DIR: join(tmp.dir, 'a-file', 'cache') });
  assert.equal(e.bytesNew, 0);
  assert.match(e.stderr, /^vmbak: warning: chunk cache .* unusable \(.*\); using an in-memory chunk table\n$/);
});
