// Runs the conformance suite and the full-disk fault test against a local directory.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalTarget } from './local-target.ts';
import { registerTargetConformance } from './target-conformance.ts';
import { execFileSync } from 'node:child_process';
import { isVmbakError, pageAlignedBuffer } from '../core/index.ts';
import { mountSmallTmpfs } from '../../test/support/tmpfs.ts';

const base = await mkdtemp(join(tmpdir(), 'vmbak-local-'));
after(() => rm(base, { recursive: true, force: true }));
let n = 0;

registerTargetConformance('local', async () => new LocalTarget(join(base, `t${n++}`)));

test('local: a full filesystem gives TARGET_FULL and leaves no partial object', async (t) => {
  const fs = await mountSmallTmpfs(8);
  if (!fs) return t.skip('cannot mount tmpfs here (needs root)');
  try {
    const target = new LocalTarget(join(fs.dir, 'repo'));
    await target.put('small', Buffer.from('fits'));
    await assert.rejects(target.put('big', randomBytes(12 * 1024 * 1024)),
      (err) => isVmbakError(err, 'TARGET_FULL') && err.message.includes(fs.dir));
    assert.equal(await target.stat('big'), null);
    // The same through the direct-write path (a page-aligned pack buffer).
    const aligned = pageAlignedBuffer(12 * 1024 * 1024);
    randomBytes(aligned.length).copy(aligned);
    await assert.rejects(target.put('big', aligned), (err) => isVmbakError(err, 'TARGET_FULL'));
    assert.deepEqual(await readdir(join(fs.dir, 'repo')), ['small']);
  } finally {
    await fs.unmount();
  }
});

/** Bytes of path that sit in the page cache (util-linux fincore). */
function cachedBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}

test('local: a big page-aligned object (a pack) is written around the page cache, a plain buffer through it', async () => {
  const dir = join(base, 'direct');
  const target = new LocalTarget(dir);
  const bytes = 3 * 1024 * 1024 + 100; // an unaligned tail, as packs have
  const aligned = pageAlignedBuffer(bytes);
  randomBytes(bytes).copy(aligned);
  const plain = Buffer.from(aligned);

  await target.put('packs/aligned', aligned);
  await target.put('packs/plain', plain);

  // Only the tail's page was written through the cache.
  assert.ok(cachedBytes(join(dir, 'packs/aligned')) <= 4096, `aligned: ${cachedBytes(join(dir, 'packs/aligned'))} bytes cached`);
  assert.ok(cachedBytes(join(dir, 'packs/plain')) > bytes / 2, 'the plain buffer went through the cache');
  assert.ok((await target.get('packs/aligned')).equals(plain));
  assert.ok((await target.get('packs/plain')).equals(plain));
  assert.deepEqual((await readdir(join(dir, 'packs'))).sort(), ['aligned', 'plain']);
});
