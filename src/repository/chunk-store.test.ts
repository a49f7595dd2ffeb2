import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planBlobReads } from './chunk-store.ts';

const blob = (packId: string, offsetBytes: number, lengthBytes: number, plainBytes = 65536) =>
  ({ location: { packId, offsetBytes, lengthBytes }, tag: `${packId}@${offsetBytes}`, plainBytes });

test('blobs of one pack close together are read at once; other packs, far gaps and the size limit split reads', () => {
  const reads = planBlobReads([
    blob('b', 0, 1000), blob('a', 5000, 1000), blob('a', 0, 1000), blob('a', 2000, 1000),
    blob('a', 1_000_000, 1000), blob('a', 1_002_000, 3000),
  ], 4000, 256 << 10);
  assert.deepEqual(reads.map((r) => [r.packId, r.offsetBytes, r.lengthBytes, r.members.length]), [
    ['a', 0, 3000, 2], ['a', 5000, 1000, 1], ['a', 1_000_000, 1000, 1], ['a', 1_002_000, 3000, 1], ['b', 0, 1000, 1],
  ]);
});

test('a read decodes to at most 8 MiB: well-compressed chunks are split into several reads', () => {
  // 1000 blobs of 100 bytes that each decode to 64 KiB: 100 KB read, 62.5 MiB decoded.
  const reads = planBlobReads(Array.from({ length: 1000 }, (_, i) => blob('p', i * 100, 100)), 8 << 20);
  assert.equal(reads.length, Math.ceil(1000 / 128));
  for (const r of reads) assert.ok(r.members.reduce((s, m) => s + m.plainBytes, 0) <= 8 << 20);
  assert.equal(reads.reduce((s, r) => s + r.members.length, 0), 1000);
});
