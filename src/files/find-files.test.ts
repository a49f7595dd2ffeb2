// Matching and grouping of file search: globs on names or paths, case-insensitive; one file
// per VM, filesystem and path; one version per (size, mtime, hash), its backups oldest first.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatcher, groupVersions } from './find-files.ts';
import type { IndexedEntry } from '../repository/index.ts';

test('a glob matches file names, or whole paths when it holds a slash', () => {
  const byName = globMatcher('Invoice-*.PDF');
  assert.equal(byName('/home/a/invoice-2026-11.pdf'), true);
  assert.equal(byName('/home/a/invoice-2026-11.pdf.bak'), false);
  assert.equal(byName('/invoice-x/readme'), false);
  assert.equal(globMatcher('a+b(1).txt')('/x/a+b(1).txt'), true, 'regex characters are literal');
  const byPath = globMatcher('docs/*.pdf');
  assert.equal(byPath('/srv/docs/x.pdf'), true);
  assert.equal(byPath('/srv/olddocs/x.pdf'), false);
  assert.equal(globMatcher('/docs/?.pdf')('/docs/x.pdf'), true);
  assert.throws(() => globMatcher(' '), /give a file name/);
});

test('versions group by size, mtime and hash; backups oldest first', () => {
  const e = (sizeBytes: number, sha256: string | null): IndexedEntry => ({ path: '/f', type: 'file', sizeBytes, mtimeMs: 5, mode: 0o644, uid: 0, gid: 0, sha256 });
  const ref = (backupId: string, timeMs: number, vmKey = 'k1') => ({ backupId, vmKey, vmName: vmKey, timeMs });
  const files = groupVersions([
    { backup: ref('b3', 30), fs: 'vda', entry: e(2, 'bb') },
    { backup: ref('b1', 10), fs: 'vda', entry: e(1, 'aa') },
    { backup: ref('b2', 20), fs: 'vda', entry: e(1, 'aa') },
    { backup: ref('c1', 10, 'k2'), fs: 'vda', entry: e(1, 'aa') },
  ]);
  assert.deepEqual(files.map((f) => [f.vmKey, f.versions.map((v) => [v.sizeBytes, v.backups.map((b) => b.backupId)])]), [
    ['k1', [[1, ['b1', 'b2']], [2, ['b3']]]],
    ['k2', [[1, ['c1']]]],
  ]);
});
