// The pack writer under the load a backup gives it: many batches adding at once into a slow
// target. Every blob must land in a pack byte for byte where the chunk table says, every pack
// must be named by its hash and indexed, the writer must never hold more than its budget of
// pack buffers, and a failing upload must fail the writer rather than hang it.

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTarget } from '../targets/local-target.ts';
import { FaultyTarget } from '../targets/faulty-target.ts';
import type { FaultRule } from '../targets/fault-rules.ts';
import { ChunkTable } from './chunk-table.ts';
import { PackWriter } from './pack-writer.ts';
import { decodePackHeader, packTrailerHeader } from './pack-format.ts';
import { PACKS_PREFIX, packIndexObject, packObject } from './layout.ts';
import { Repository } from './repository.ts';

let dir = '';
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vmbak-pack-writer-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function repoOn(faults: FaultRule[]): Promise<{ repo: Repository; target: FaultyTarget }> {
  const target = new FaultyTarget(new LocalTarget(join(dir, 'repo')), faults);
  const repo = await Repository.init(target, { passphrase: 'pw' });
  return { repo, target };
}

/** Eight "batches" adding blobs at once, each reusing one scratch buffer as a batch slot does. */
async function addConcurrently(writer: PackWriter, batches: number, blobsPerBatch: number): Promise<Map<string, Buffer>> {
  const added = new Map<string, Buffer>();
  await Promise.all(Array.from({ length: batches }, async () => {
    const scratch = Buffer.alloc(80 * 1024);
    for (let i = 0; i < blobsPerBatch; i++) {
      const blob = randomBytes(randomInt(1, 72 * 1024));
      const id = randomBytes(32);
      blob.copy(scratch);
      writer.reserve(id);
      await writer.add(id, scratch.subarray(0, blob.length));
      scratch.fill(0xee); // the writer copied the blob: the slot is free again
      added.set(id.toString('hex'), blob);
      // Batches do other work between their adds (hashing, encoding in workers).
      if (randomInt(4) === 0) await new Promise((r) => setImmediate(r));
    }
  }));
  return added;
}

test('concurrent adds into a slow target: every blob where the table says, packs named by hash and indexed, at most one buffer per upload slot plus one', async () => {
  const { repo, target } = await repoOn([{ op: 'put', match: PACKS_PREFIX, action: 'delay', ms: 15 }]);
  const table = new ChunkTable();
  const writer = new PackWriter(target, repo.keys, table, { packSizeBytes: 512 * 1024, maxUploads: 2 });
  const added = await addConcurrently(writer, 8, 60);
  await writer.finish();

  assert.ok(writer.peakBuffers <= 3, `peak pack buffers ${writer.peakBuffers}`);
  const packs = new Map<string, Buffer>();
  for (const [hex, blob] of added) {
    const at = table.get(Buffer.from(hex, 'hex'));
    assert.ok(at, `chunk ${hex} not in the table`);
    let pack = packs.get(at.packId);
    if (!pack) {
      pack = await target.get(packObject(at.packId));
      assert.equal(createHash('sha256').update(pack).digest('hex'), at.packId, 'a pack is named by its hash');
      packs.set(at.packId, pack);
    }
    assert.ok(pack.subarray(at.offsetBytes, at.offsetBytes + at.lengthBytes).equals(blob), `blob of ${hex} differs in pack ${at.packId}`);
  }
  assert.ok(packs.size > 20, `only ${packs.size} packs: the test did not fill many`);
  let indexed = 0;
  for (const [packId, pack] of packs) {
    const header = await target.get(packIndexObject(packId));
    assert.ok(packTrailerHeader(pack)!.equals(header), 'the pack index is the pack\'s own header');
    const entries = decodePackHeader(repo.keys, header)!;
    for (const e of entries) assert.equal(table.get(e.chunkId)!.packId, packId);
    indexed += entries.length;
  }
  assert.equal(indexed, added.size, 'every blob is in exactly one pack index');
});

test('a pack upload that fails fails the adds and finish with its error, and nothing waits for ever', async () => {
  const { repo, target } = await repoOn([{ op: 'put', match: PACKS_PREFIX, nth: 3, action: 'fail' }]);
  const writer = new PackWriter(target, repo.keys, new ChunkTable(), { packSizeBytes: 256 * 1024, maxUploads: 2 });
  await assert.rejects(async () => {
    await addConcurrently(writer, 8, 80);
    await writer.finish();
  }, (err: Error & { code?: string }) => err.code === 'TARGET_IO');
  await assert.rejects(writer.finish(), (err: Error & { code?: string }) => err.code === 'TARGET_IO');
});
