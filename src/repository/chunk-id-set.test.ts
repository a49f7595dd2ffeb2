import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkIdSet } from './chunk-id-set.ts';

for (const keyBytes of [8, 16] as const) {
  test(`${keyBytes}-byte keys: ids added are found, others are not, through growth; duplicates count once`, () => {
    const set = new ChunkIdSet(keyBytes);
    const ids = Array.from({ length: 200_000 }, () => randomBytes(32));
    for (const id of ids) set.add(id);
    for (const id of ids.slice(0, 1000)) set.add(id);
    assert.equal(set.size, ids.length);
    for (const id of ids) assert.ok(set.has(id));
    let falsePositives = 0;
    for (let i = 0; i < 200_000; i++) if (set.has(randomBytes(32))) falsePositives++;
    assert.equal(falsePositives, 0);
  });

  test(`${keyBytes}-byte keys: an id whose prefix is all zero is kept like any other`, () => {
    const set = new ChunkIdSet(keyBytes);
    const zeroPrefix = Buffer.concat([Buffer.alloc(keyBytes), randomBytes(32 - keyBytes)]);
    assert.equal(set.has(zeroPrefix), false);
    set.add(zeroPrefix);
    assert.equal(set.has(zeroPrefix), true);
    assert.equal(set.size, 1);
  });

  test(`${keyBytes}-byte keys: memory at most ${4 * keyBytes} bytes a chunk`, () => {
    const set = new ChunkIdSet(keyBytes);
    const ids = randomBytes(32 * 1_000_000);
    for (let i = 0; i < 1_000_000; i++) set.add(ids.subarray(i * 32, i * 32 + 32));
    assert.equal(set.size, 1_000_000);
    assert.ok(set.bytes / set.size <= 4 * keyBytes, `${(set.bytes / set.size).toFixed(1)} bytes per chunk`);
  });
}
