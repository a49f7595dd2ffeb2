// Download directories: a new request sweeps the ones older than a day and keeps the rest.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DOWNLOAD_KEEP_MS, nextDownloadDir } from './downloads.ts';

test('a new download directory sweeps the downloads older than a day', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-downloads-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const nowMs = Date.now();
  for (const [name, ageMs] of [['old', DOWNLOAD_KEEP_MS + 60_000], ['recent', DOWNLOAD_KEEP_MS - 60_000]] as const) {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'vda.raw'), 'x');
    const when = new Date(nowMs - ageMs);
    utimesSync(join(dir, name), when, when);
  }
  const next = await nextDownloadDir(dir, nowMs);
  assert.equal(dirname(next), dir);
  assert.equal(existsSync(next), false, 'the restore job makes it');
  assert.deepEqual([existsSync(join(dir, 'old')), existsSync(join(dir, 'recent'))], [false, true]);
  assert.notEqual(await nextDownloadDir(dir, nowMs), next, 'each request its own');
});
