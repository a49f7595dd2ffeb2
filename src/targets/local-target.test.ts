// Runs the conformance suite and the full-disk fault test against a local directory.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalTarget } from './local-target.ts';
import { registerTargetConformance } from './target-conformance.ts';
import { isVmbakError } from '../core/index.ts';
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
    assert.deepEqual(await readdir(join(fs.dir, 'repo')), ['small']);
  } finally {
    await fs.unmount();
  }
});
