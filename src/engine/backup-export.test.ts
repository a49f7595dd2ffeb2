// The backup export's own rules, with a chunk source of the test's own: reads assemble the
// right bytes across chunk edges, zero chunks are holes never fetched, read-ahead follows a
// sequential reader (also one split over interleaved connections) and not a random one, and
// reads stop once the lease signal fires. The decoded-chunk cache stays within its bound.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { DiskIndex, ZERO_CHUNK_ID } from '../repository/index.ts';
import { BackupDiskExport } from './backup-export.ts';
import type { ChunkRef, ChunkSource } from './chunk-fetcher.ts';
import { DecodedChunkCache } from './decoded-chunk-cache.ts';

const CHUNK = 4096;

/** A disk of `count` chunks; chunk i is filled with byte i+1 unless it is in `zeros`. */
function fixture(count: number, zeros: number[], opts: { readAheadBytes?: number; signal?: AbortSignal } = {}) {
  const index = new DiskIndex(count * CHUNK - 100, CHUNK);
  for (let i = 0; i < count; i++) index.setId(i, zeros.includes(i) ? ZERO_CHUNK_ID : createHash('sha256').update(String(i)).digest());
  const calls: { chunks: number[]; urgent: boolean }[] = [];
  const source: ChunkSource = {
    fetch: (refs: readonly ChunkRef[], urgent: boolean) => {
      calls.push({ chunks: refs.map((r) => r.offsetBytes / CHUNK), urgent });
      return refs.map((r) => Promise.resolve(Buffer.alloc(r.plainBytes, r.offsetBytes / CHUNK + 1)));
    },
  };
  const exp = new BackupDiskExport({
    backupId: 'b1', vmName: 'vm', disk: 'vda', index, fetcher: source,
    signal: opts.signal ?? new AbortController().signal, readAheadBytes: opts.readAheadBytes ?? 0,
  });
  return { exp, calls, index };
}

function expected(from: number, length: number, zeros: number[]): Buffer {
  const out = Buffer.alloc(length);
  for (let k = 0; k < length; k++) {
    const chunk = Math.floor((from + k) / CHUNK);
    out[k] = zeros.includes(chunk) ? 0 : chunk + 1;
  }
  return out;
}

test('reads cross chunk edges, zero chunks read as zeros without a fetch, the short last chunk ends the disk', async () => {
  const zeros = [2, 3];
  const { exp, calls } = fixture(8, zeros);
  assert.equal(exp.sizeBytes, 8 * CHUNK - 100);
  assert.ok((await exp.read(CHUNK - 10, 3 * CHUNK)).equals(expected(CHUNK - 10, 3 * CHUNK, zeros)));
  assert.deepEqual(calls, [{ chunks: [0, 1], urgent: true }]);
  assert.ok((await exp.read(7 * CHUNK, CHUNK - 100)).equals(expected(7 * CHUNK, CHUNK - 100, zeros)));
  assert.deepEqual(await exp.extents(CHUNK + 5, 4 * CHUNK), [
    { offsetBytes: CHUNK + 5, lengthBytes: CHUNK - 5, zero: false },
    { offsetBytes: 2 * CHUNK, lengthBytes: 2 * CHUNK, zero: true },
    { offsetBytes: 4 * CHUNK, lengthBytes: CHUNK + 5, zero: false },
  ]);
});

test('read-ahead follows sequential reads, also interleaved ones and several runs at once, but not random reads', async () => {
  const { exp, calls } = fixture(400, [], { readAheadBytes: 16 * CHUNK });
  const ahead = () => calls.filter((c) => !c.urgent).map((c) => [c.chunks[0], c.chunks.at(-1)]);
  await exp.read(0, 2 * CHUNK);
  await exp.read(2 * CHUNK, 2 * CHUNK);
  assert.deepEqual(ahead(), [], 'two reads are not yet a run');
  await exp.read(4 * CHUNK, 2 * CHUNK);
  assert.deepEqual(ahead(), [[6, 21]]);
  // Two connections of one reader: the later request arrives first.
  await exp.read(8 * CHUNK, 2 * CHUNK);
  await exp.read(6 * CHUNK, 2 * CHUNK);
  await exp.read(10 * CHUNK, 2 * CHUNK);
  assert.equal(ahead().length, 1, 'half the window is still ahead');
  // A second run elsewhere, interleaved with the first.
  for (const at of [300, 12, 302, 14, 304]) await exp.read(at * CHUNK, 2 * CHUNK);
  // Less than half the window ahead of the first run: it is filled up again, once; the second run starts its own.
  assert.deepEqual(ahead(), [[6, 21], [22, 31], [306, 321]]);
  calls.length = 0;
  for (const at of [150, 40, 170, 90, 250, 60, 190, 110, 350, 20, 151, 41]) await exp.read(at * CHUNK + 7, 100);
  assert.deepEqual(ahead(), []);
});

test('once the signal fires reads fail with its reason', async () => {
  const lease = new AbortController();
  const { exp } = fixture(4, [], { signal: lease.signal });
  await exp.read(0, 10);
  lease.abort(new Error('lease lost'));
  await assert.rejects(exp.read(0, 10), /lease lost/);
});

test('the decoded-chunk cache keeps the most recently used within its bytes', () => {
  const cache = new DecodedChunkCache(3 * CHUNK);
  for (const k of ['a', 'b', 'c']) cache.set(k, Buffer.alloc(CHUNK));
  assert.ok(cache.get('a'));
  cache.set('d', Buffer.alloc(CHUNK));
  assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => cache.has(k)), [true, false, true, true]);
  assert.equal(cache.sizeBytes, 3 * CHUNK);
  cache.set('huge', Buffer.alloc(4 * CHUNK));
  assert.equal(cache.has('huge'), false);
});
