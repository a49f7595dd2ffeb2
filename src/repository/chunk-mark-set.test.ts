import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkMarkSet } from './chunk-mark-set.ts';

test('marked ids are found, unmarked ones are not, through growth; duplicates count once', () => {
  const set = new ChunkMarkSet(16);
  const ids = Array.from({ length: 200_000 }, () => randomBytes(32));
  for (const id of ids) set.add(id);
  for (const id of ids.slice(0, 1000)) set.add(id);
  assert.equal(set.size, ids.length);
  for (const id of ids) assert.ok(set.has(id));
  let falsePositives = 0;
  for (let i = 0; i < 200_000; i++) if (set.has(randomBytes(32))) falsePositives++;
  assert.equal(falsePositives, 0);
});

test('ids whose first 8 bytes are zero are kept like any other', () => {
  const set = new ChunkMarkSet();
  const zeroPrefix = Buffer.concat([Buffer.alloc(8), randomBytes(24)]);
  assert.equal(set.has(zeroPrefix), false);
  set.add(zeroPrefix);
  assert.equal(set.has(zeroPrefix), true);
  assert.equal(set.size, 1);
});

test('memory: at most 32 bytes per marked chunk', () => {
  const set = new ChunkMarkSet();
  const ids = randomBytes(32 * 1_000_000);
  for (let i = 0; i < 1_000_000; i++) set.add(ids.subarray(i * 32, i * 32 + 32));
  assert.ok(set.bytes / set.size <= 32, `${(set.bytes / set.size).toFixed(1)} bytes per chunk`);
});
