// A first backup compresses at the repository's level, the new chunks of a backup that builds
// on a previous one at its incremental level; repositories made before the incremental level
// existed keep one level, and `repo init` validates and reports both.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { vmbak, tempDir, jsonLine } from './support/vmbak-cli.ts';

const tmp = tempDir('levels');
after(() => tmp.remove());

/** 4 MiB of this project's source text, from `start` on: compressible, and more so at higher levels. */
function sourceText(start: number): Buffer {
  const dir = new URL('../src/repository/', import.meta.url);
  const text = Buffer.concat(readdirSync(dir).filter((f) => f.endsWith('.ts')).sort().map((f) => readFileSync(new URL(f, dir))));
  const out = Buffer.alloc(4 << 20);
  for (let at = 0; at < out.length; at += text.length - start) text.copy(out, at, start);
  return out;
}

function packBytes(repo: string): number {
  const dir = join(repo, 'packs');
  let total = 0;
  if (!existsSync(dir)) return 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

test('incremental backups compress their new chunks at the incremental level', async () => {
  const image = join(tmp.dir, 'disk.raw');
  const repos = { fast: join(tmp.dir, 'fast'), harder: join(tmp.dir, 'harder') };
  const init = {
    fast: await vmbak(['repo', 'init', '--no-encryption', '--repo', repos.fast, '--incremental-compression-level', '1']),
    harder: await vmbak(['repo', 'init', '--no-encryption', '--repo', repos.harder, '--incremental-compression-level', '19']),
  };
  assert.equal(init.fast.code, 0, init.fast.stderr);
  assert.match(init.harder.stdout, /zstd level 1 \(19 for incremental backups\)/);

  const grown: Record<string, number[]> = { fast: [], harder: [] };
  const backupBoth = async () => {
    for (const name of ['fast', 'harder'] as const) {
      const before = packBytes(repos[name]);
      const r = await vmbak(['backup', '--repo', repos[name], '--image', image, '--vm', 'docs', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(jsonLine<{ bytesNew: number }>(r).bytesNew > 0);
      grown[name]!.push(packBytes(repos[name]) - before);
    }
  };
  writeFileSync(image, sourceText(0));
  await backupBoth();
  // Every chunk changes (the text shifts by a few bytes): all of them are new again.
  writeFileSync(image, sourceText(7));
  await backupBoth();

  assert.equal(grown.harder[0], grown.fast[0], 'the first backups compress alike, at level 1');
  assert.ok(grown.harder[1]! < grown.fast[1]! * 0.95, `incremental: level 19 stored ${grown.harder[1]} bytes, level 1 ${grown.fast[1]}`);
});

test('repo init: the incremental level defaults to 4 (or the level, when higher); a bad one is refused', async () => {
  const plain = join(tmp.dir, 'plain');
  assert.equal((await vmbak(['repo', 'init', '--no-encryption', '--repo', plain])).code, 0);
  assert.deepEqual(JSON.parse(readFileSync(join(plain, 'config'), 'utf8')).compression, { algorithm: 'zstd', level: 1, incrementalLevel: 4 });
  const high = join(tmp.dir, 'high');
  assert.equal((await vmbak(['repo', 'init', '--no-encryption', '--repo', high, '--compression-level', '9'])).code, 0);
  assert.deepEqual(JSON.parse(readFileSync(join(high, 'config'), 'utf8')).compression, { algorithm: 'zstd', level: 9, incrementalLevel: 9 });

  const bad = await vmbak(['repo', 'init', '--no-encryption', '--repo', join(tmp.dir, 'bad'), '--incremental-compression-level', '30']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim(), 'vmbak: --incremental-compression-level 30: give an integer from -7 to 22');
});

test('a repository made before the incremental level existed backs up with its one level', async () => {
  const old = join(tmp.dir, 'old');
  assert.equal((await vmbak(['repo', 'init', '--no-encryption', '--repo', old])).code, 0);
  const config = JSON.parse(readFileSync(join(old, 'config'), 'utf8'));
  delete config.compression.incrementalLevel;
  writeFileSync(join(old, 'config'), JSON.stringify(config, null, 2) + '\n');
  const image = join(tmp.dir, 'old.raw');
  writeFileSync(image, sourceText(0));
  for (let i = 0; i < 2; i++) {
    if (i === 1) writeFileSync(image, sourceText(3));
    const r = await vmbak(['backup', '--repo', old, '--image', image, '--vm', 'old', '--json']);
    assert.equal(r.code, 0, r.stderr);
  }
  const restored = await vmbak(['restore', '--repo', old, 'latest', '--to', join(tmp.dir, 'old-restored'), '--format', 'raw', '--verify']);
  assert.equal(restored.code, 0, restored.stderr);
  assert.ok(readFileSync(join(tmp.dir, 'old-restored', 'old.raw')).equals(sourceText(3)));
});
