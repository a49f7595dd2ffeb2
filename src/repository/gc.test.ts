// Gc against a concurrent writer: while another operation is live, unreferenced packs are only
// condemned (and writers stop deduplicating against them); they are deleted once every live
// operation has recorded in its lock that it read the plan.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/index.ts';
import { LocalTarget } from '../targets/local-target.ts';
import { Repository } from './repository.ts';
import { ChunkTable } from './chunk-table.ts';
import { PackWriter } from './pack-writer.ts';
import { computeChunkId, encodeChunk } from './codec.ts';
import { acquireLock } from './locks.ts';
import { runGc } from './gc.ts';
import { openChunkTableForWriting, readGcPlan } from './gc-plan.ts';
import { listIndexedPacks } from './chunk-store.ts';

test('gc condemns instead of deleting while a writer runs, deletes once every live operation read the plan', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-gc-'));
  try {
    let now = Date.now();
    const clock: Clock = { nowMs: () => now };
    const repo = await Repository.init(new LocalTarget(dir), { passphrase: null, packSizeBytes: 1 << 20 });
    // An unreferenced pack, as a killed backup leaves it.
    const writer = new PackWriter(repo.target, repo.keys, new ChunkTable(), { packSizeBytes: 1 << 20 });
    const data = randomBytes(65536);
    const id = computeChunkId(repo.keys, data);
    await writer.add(id, encodeChunk(repo.keys, id, data, 1));
    await writer.finish();
    assert.equal((await listIndexedPacks(repo.target)).length, 1);

    // A live writer (this process holds its lock) started before gc.
    const backupLock = await acquireLock(repo.target, 'vm-test', 'backup of test', 'VM test', clock);
    now += 1000;
    const first = await runGc(repo, { dryRun: false, clock });
    assert.equal(first.packsDeleted, 0);
    assert.equal(first.packsCondemned, 1);
    assert.match(first.deferredBecause ?? '', /backup of test/);
    assert.equal((await listIndexedPacks(repo.target)).length, 1, 'nothing deleted under a live writer');
    assert.equal((await readGcPlan(repo))?.condemnedPacks.length, 1);

    // A writer starting now must not dedup against the condemned pack.
    const lateLock = await acquireLock(repo.target, 'vm-late', 'backup of late', 'VM late', clock);
    assert.equal((await openChunkTableForWriting(repo, lateLock, clock)).has(id), false);

    // The old writer, which never read the plan, still runs: however much later, no delete.
    now += 24 * 3600_000;
    const planId = (await readGcPlan(repo))?.id;
    const second = await runGc(repo, { dryRun: false, clock });
    assert.equal(second.packsDeleted, 0);
    assert.equal((await readGcPlan(repo))?.id, planId, 'a plan that condemns nothing new keeps its id');
    await backupLock.release();

    // Only a writer that read the plan is live now: the pack goes.
    const third = await runGc(repo, { dryRun: false, clock });
    assert.equal(third.packsDeleted, 1);
    assert.equal((await listIndexedPacks(repo.target)).length, 0);
    await lateLock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gc refuses to run concurrently with another gc, and a backup refuses to start under gc', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-gc2-'));
  try {
    const repo = await Repository.init(new LocalTarget(dir), { passphrase: null });
    const gcLock = await acquireLock(repo.target, 'gc', 'gc', 'garbage collection');
    await assert.rejects(runGc(repo, { dryRun: false }), /garbage collection in .* is locked by gc on/);
    const writerLock = await acquireLock(repo.target, 'vm-w', 'backup of w', 'VM w');
    await assert.rejects(openChunkTableForWriting(repo, writerLock), /is locked by gc/);
    await gcLock.release();
    await openChunkTableForWriting(repo, writerLock);
    await writerLock.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
