import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { computeChunkId, decodeChunk, encodeChunk, openObject, sealObject } from './codec.ts';
import { splitMasterSecret } from './crypto.ts';
import { DiskIndex } from './disk-index.ts';

const keys = splitMasterSecret(randomBytes(64));

for (const [name, k] of [['encrypted', keys], ['unencrypted', null]] as const) {
  test(`${name}: chunks round-trip, compressible and not, and tampering is caught`, () => {
    for (const data of [Buffer.alloc(65536, 'log line '), randomBytes(65536)]) {
      const id = computeChunkId(k, data);
      const blob = encodeChunk(k, id, data, 3);
      assert.deepEqual(decodeChunk(k, id, blob, data.length), data);
      const flipped = Buffer.from(blob);
      flipped[flipped.length >> 1]! ^= 1;
      assert.equal(typeof decodeChunk(k, id, flipped, data.length), 'string', 'a flipped byte is detected');
      const otherId = computeChunkId(k, Buffer.from('other'));
      assert.equal(typeof decodeChunk(k, otherId, blob, data.length), 'string', 'a blob cannot pass for another chunk');
    }
  });

  test(`${name}: sealed objects are bound to their name`, () => {
    const sealed = sealObject(k, Buffer.from('{"x":1}'), 'backups/a/manifest');
    assert.equal(openObject(k, sealed, 'backups/a/manifest')?.toString(), '{"x":1}');
    assert.equal(openObject(k, sealed, 'backups/b/manifest'), null);
    assert.equal(openObject(k, sealed.subarray(0, sealed.length - 3), 'backups/a/manifest'), null);
  });
}

test('chunk ids are keyed: the same data gets different ids under different keys', () => {
  const data = Buffer.from('same');
  assert.notDeepEqual(computeChunkId(keys, data), computeChunkId(splitMasterSecret(randomBytes(64)), data));
});

test('disk index encodes, decodes and rejects damage', () => {
  const index = new DiskIndex(200_000, 65536);
  assert.equal(index.count, 4);
  assert.equal(index.chunkLength(3), 200_000 - 3 * 65536);
  index.setId(1, randomBytes(32));
  const back = DiskIndex.decode(index.encode());
  assert.ok(back instanceof DiskIndex);
  assert.equal(back.digest(), index.digest());
  assert.ok(back.isZero(0) && !back.isZero(1));
  assert.equal(typeof DiskIndex.decode(index.encode().subarray(0, 40)), 'string');
});
