// The file index's layout: what is encoded decodes the same; a damaged or foreign one is
// reported, never half-read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFileIndex, encodeFileIndex, type FileIndex } from './file-index.ts';

const index: FileIndex = {
  header: {
    format: 'vmbak-file-index', version: 1, backupId: 'b1', createdAt: '2026-12-04T20:00:00.000Z', hashLimitBytes: 1 << 20, durationMs: 12,
    filesystems: [
      { id: 'vda/p1', type: 'ext4', extents: [{ disk: 'vda', startByte: 1 << 20, lengthBytes: 16 << 20 }], extentDigest: 'ab', reusedFrom: null, entryCount: 2, error: null, warnings: ['./lost: Input/output error'] },
      { id: 'vda/p2', type: 'swap', extents: null, extentDigest: null, reusedFrom: null, entryCount: 0, error: 'swap: it is swap space' },
    ],
  },
  entries: [[
    { path: '/', type: 'dir', sizeBytes: 4096, mtimeMs: 1, mode: 0o755, uid: 0, gid: 0, sha256: null },
    { path: '/a "b"\nc ü', type: 'file', sizeBytes: 3, mtimeMs: -1500, mode: 0o4644, uid: 1000, gid: 100, sha256: 'ff'.repeat(32) },
  ], []],
};

test('an index decodes to what was encoded, odd names and negative mtimes included', () => {
  assert.deepEqual(decodeFileIndex(encodeFileIndex(index)), index);
});

test('a damaged index is reported: header, entry, or count', () => {
  assert.match(decodeFileIndex(Buffer.from('{"format":"other"}\n')) as string, /^header/);
  const text = encodeFileIndex(index).toString();
  assert.match(decodeFileIndex(Buffer.from(text.replace(/\n\[0,"\/",/, '\n[7,"/",'))) as string, /malformed/);
  assert.match(decodeFileIndex(Buffer.from(text.split('\n').slice(0, 2).join('\n'))) as string, /lists 1 entries, its header says 2/);
});
