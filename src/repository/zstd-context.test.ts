import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { compressFrame, decompressFrame } from './zstd-context.ts';

function sample(n: number): Buffer {
  // Alternating compressible and random chunks of varying length.
  const size = 1 + ((n * 7919) % 65536);
  return n % 3 === 0 ? randomBytes(size) : Buffer.from(`line ${n} `.repeat(size).slice(0, size));
}

test('a reused context makes standalone frames: each decodes on its own, in any order', () => {
  const samples = Array.from({ length: 300 }, (_, n) => sample(n));
  const frames = samples.map((data) => Buffer.from(compressFrame(data, 1)));
  for (const n of [299, 0, 150, 3, 298]) assert.deepEqual(zstdDecompressSync(frames[n]!), samples[n]);
  for (const [n, frame] of frames.entries()) assert.deepEqual(decompressFrame(frame, samples[n]!.length), samples[n]);
});

test('compressFrame returns this thread\'s buffer, valid until the next call; levels keep their own context', () => {
  const a = compressFrame(Buffer.alloc(65536, 'a'), 3);
  const copy = Buffer.from(a);
  compressFrame(randomBytes(65536), 1);
  assert.notDeepEqual(a, copy, 'the next call reuses the buffer');
  assert.deepEqual(zstdDecompressSync(copy), Buffer.alloc(65536, 'a'));
  assert.ok(compressFrame(Buffer.alloc(65536, 'text '), 19).length < 100);
});

test('damaged frames and wrong lengths give null, and the next frame still decodes', () => {
  const data = Buffer.alloc(65536, 'log line ');
  const frame = zstdCompressSync(data);
  const damaged = Buffer.from(frame);
  damaged[damaged.length >> 1]! ^= 0xff;
  const cases: [Buffer, number][] = [
    [damaged, data.length],
    [frame.subarray(0, frame.length - 4), data.length],
    [frame, data.length - 1],
    [frame, data.length + 1],
    [randomBytes(200), data.length],
  ];
  for (const [bad, plainBytes] of cases) {
    const out = decompressFrame(bad, plainBytes);
    assert.ok(out === null || !out.equals(data.subarray(0, plainBytes)) || plainBytes !== data.length, 'no wrong data passed as right');
    assert.deepEqual(decompressFrame(frame, data.length), data, 'the context recovers');
  }
  assert.equal(decompressFrame(frame, data.length - 1), null, 'a longer frame than promised is refused');
  assert.equal(decompressFrame(frame, data.length + 1), null, 'a shorter frame than promised is refused');
});

test('frames of chunk size written one after another leave no memory behind', () => {
  const data = randomBytes(65536);
  const text = Buffer.alloc(65536, 'abc ');
  for (let i = 0; i < 2000; i++) compressFrame(i % 2 ? data : text, 1);
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 20000; i++) {
    const frame = compressFrame(i % 2 ? data : text, 1);
    assert.ok(decompressFrame(frame, 65536));
  }
  const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
  assert.ok(grownMiB < 20, `RSS grew ${grownMiB.toFixed(1)} MiB over 20000 frames`);
});
