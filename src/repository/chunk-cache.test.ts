// The local chunk cache: reconciliation with the `index/` listing (only new pack indexes are
// read; packs gone from the listing leave the cache; condemned packs are never deduplicated
// against), rebuilding a damaged file, falling back when it cannot be used, and sharing and
// killing across real processes.

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { LocalTarget } from '../targets/local-target.ts';
import { Repository } from './repository.ts';
import { ChunkTable } from './chunk-table.ts';
import { PackWriter } from './pack-writer.ts';
import { computeChunkId, encodeChunk } from './codec.ts';
import { acquireLock, operationLockName } from './locks.ts';
import { runGc } from './gc.ts';
import { openChunkTableForWriting } from './gc-plan.ts';
import { listIndexedPacks, loadChunkTable } from './chunk-store.ts';
import { chunkCachePath } from './chunk-cache-file.ts';
import { chunkCacheFor, closeChunkCaches } from './chunk-cache-registry.ts';
import { CachedChunkStore } from './chunk-cache-view.ts';
import { CountingTarget, writeSyntheticPackIndexes } from './chunk-cache-test-support.ts';
import { packIndexObject, packObject } from './layout.ts';

const SUPPORT = fileURLToPath(new URL('./chunk-cache-test-support.ts', import.meta.url));
let dir = '';
let cacheDir = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vmbak-chunk-cache-'));
  cacheDir = join(dir, 'cache');
  process.env.VMBAK_CACHE_DIR = cacheDir;
});

afterEach(() => {
  closeChunkCaches();
  delete process.env.VMBAK_CACHE_DIR;
  rmSync(dir, { recursive: true, force: true });
});

async function newRepo(): Promise<{ repo: Repository; counting: CountingTarget }> {
  const counting = new CountingTarget(new LocalTarget(join(dir, 'repo')));
  const repo = await Repository.init(counting, { passphrase: 'pw', packSizeBytes: 1 << 20 });
  return { repo, counting };
}

/** Stores chunks in one pack of their own, as a backup writes them, and returns their ids. */
async function storeChunks(repo: Repository, table: ChunkTable, count: number): Promise<Buffer[]> {
  const writer = new PackWriter(repo.target, repo.keys, table, { packSizeBytes: 1 << 30 });
  const ids: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const data = randomBytes(1024);
    const id = computeChunkId(repo.keys, data);
    await writer.add(id, encodeChunk(repo.keys, id, data, 1));
    ids.push(id);
  }
  await writer.finish();
  return ids;
}

/** Stores the given chunks unless the table knows them, as a backup does; returns how many it wrote. */
async function storeChunksWithIds(repo: Repository, table: ChunkTable, ids: Buffer[]): Promise<number> {
  const writer = new PackWriter(repo.target, repo.keys, table, { packSizeBytes: 1 << 30 });
  let written = 0;
  for (const id of ids) {
    if (writer.knows(id)) continue;
    // The content does not matter to the table; the blob is sealed under the id.
    await writer.add(id, encodeChunk(repo.keys, id, randomBytes(64), 1));
    written++;
  }
  await writer.finish();
  return written;
}

const cachedPackIds = (repo: Repository): string[] => [...chunkCacheFor(repo.config.repositoryId)!.packs().keys()].sort();

test('a reopened repository reads only the pack indexes the cache lacks', async () => {
  const { repo, counting } = await newRepo();
  const ids = [];
  for (let p = 0; p < 3; p++) ids.push(...await storeChunks(repo, new ChunkTable(), 5));

  counting.indexReads = 0;
  let table = await loadChunkTable(repo.target, repo.keys);
  assert.equal(counting.indexReads, 3, 'the first open reads every index');
  for (const id of ids) assert.ok(table.has(id));

  counting.indexReads = 0;
  table = await loadChunkTable(repo.target, repo.keys);
  assert.equal(counting.indexReads, 0, 'a reopen reads none');
  for (const id of ids) assert.ok(table.get(id));

  const before = new Set(await listIndexedPacks(repo.target));
  const more = await storeChunks(repo, new ChunkTable(), 5);
  counting.indexReads = 0;
  table = await loadChunkTable(repo.target, repo.keys);
  assert.equal(counting.indexReads, 1, 'only the new pack');
  const [newPack] = (await listIndexedPacks(repo.target)).filter((id) => !before.has(id));
  assert.equal(table.get(more[2]!)!.packId, newPack);
  assert.equal(table.has(randomBytes(32)), false);
});

test('chunks a writer stores are found by that writer at once and by others once listed', async () => {
  const { repo, counting } = await newRepo();
  const cache = chunkCacheFor(repo.config.repositoryId)!;
  // A view that keeps at most 1000 of its own chunks in memory, so this run spills to the cache.
  const table = new ChunkTable(new CachedChunkStore(cache, new Map(), 1000));
  const ids = await storeChunks(repo, table, 2500);
  for (const id of ids) assert.ok(table.has(id), 'the writer knows what it stored');
  const spilled = [...cache.packs().values()];
  assert.ok(spilled.length === 1 && !spilled[0]!.complete, 'rows spilled to the cache, the pack not marked complete');
  counting.indexReads = 0;
  const other = await loadChunkTable(repo.target, repo.keys);
  assert.equal(counting.indexReads, 1, 'the pack is read once more, to complete it');
  for (const id of ids) assert.ok(other.has(id));
  counting.indexReads = 0;
  await loadChunkTable(repo.target, repo.keys);
  assert.equal(counting.indexReads, 0);
});

test('a pack gc deletes leaves the cache, and the next writer stores its chunk again', async () => {
  const { repo } = await newRepo();
  const [gone] = await storeChunks(repo, new ChunkTable(), 1);
  assert.ok((await loadChunkTable(repo.target, repo.keys)).has(gone!));
  assert.equal(cachedPackIds(repo).length, 1);

  // Nothing refers to the pack: gc (no other operation live) deletes it, cache first.
  const report = await runGc(repo, { dryRun: false });
  assert.equal(report.packsDeleted, 1);
  assert.deepEqual(cachedPackIds(repo), [], 'gc removed its pack from the cache');
  const table = await openChunkTableForWriting(repo, await acquireLock(repo.target, operationLockName(), 'test writer', 'test'));
  assert.equal(table.has(gone!), false);
  const again = await storeChunksWithIds(repo, table, [gone!]);
  assert.equal(again, 1, 'the next backup stores the chunk again');
  assert.ok((await loadChunkTable(repo.target, repo.keys)).has(gone!));
});

test('packs deleted behind the cache (gc on another host) are dropped on the next open', async () => {
  const { repo } = await newRepo();
  const [a] = await storeChunks(repo, new ChunkTable(), 1);
  const [b] = await storeChunks(repo, new ChunkTable(), 1);
  let table = await loadChunkTable(repo.target, repo.keys);
  const packA = table.get(a!)!.packId;
  // A chunk stored twice: in pack A (deleted below) and in a pack of its own.
  const dup = new PackWriter(repo.target, repo.keys, new ChunkTable(), { packSizeBytes: 1 << 30 });
  const blobA = await repo.target.get(packObject(packA), { offsetBytes: table.get(a!)!.offsetBytes, lengthBytes: table.get(a!)!.lengthBytes });
  await dup.add(a!, blobA);
  await dup.finish();
  table = await loadChunkTable(repo.target, repo.keys);

  await repo.target.delete(packIndexObject(packA));
  await repo.target.delete(packObject(packA));
  table = await loadChunkTable(repo.target, repo.keys);
  assert.ok(!cachedPackIds(repo).includes(packA));
  assert.ok(table.has(b!));
  const loc = table.get(a!);
  assert.ok(loc && loc.packId !== packA, 'the chunk is still found in its other pack');
  assert.deepEqual(await repo.target.get(packObject(loc.packId), { offsetBytes: loc.offsetBytes, lengthBytes: loc.lengthBytes }), blobA);
});

test('rows of packs outside this process\'s listing are never used, whoever wrote them', async () => {
  const { repo } = await newRepo();
  const [stored] = await storeChunks(repo, new ChunkTable(), 1);
  const table = await loadChunkTable(repo.target, repo.keys);
  // Another process, working from an older listing or another copy of the repository, caches
  // a pack this one never listed (here: one that does not exist at all).
  const foreign = randomBytes(32);
  chunkCacheFor(repo.config.repositoryId)!.insertCompletePacks([
    { packId: randomBytes(32).toString('hex'), entries: [{ chunkId: foreign, offsetBytes: 0, lengthBytes: 100 }, { chunkId: stored!, offsetBytes: 7, lengthBytes: 9 }] },
  ]);
  assert.equal(table.has(foreign), false);
  assert.equal(table.get(foreign), null);
  assert.notEqual(table.get(stored!)!.offsetBytes, 7, 'the listed pack\'s location, not the foreign one');
  assert.ok(await repo.target.stat(packObject(table.get(stored!)!.packId)));
});

test('writers leave condemned packs out; readers of the same cache still see them', async () => {
  const { repo } = await newRepo();
  const [id] = await storeChunks(repo, new ChunkTable(), 1);
  assert.ok((await loadChunkTable(repo.target, repo.keys)).has(id!), 'cached before gc condemns it');
  const live = await acquireLock(repo.target, 'vm-other', 'backup of other', 'VM other');
  try {
    const report = await runGc(repo, { dryRun: false });
    assert.equal(report.packsCondemned, 1);
  } finally {
    await live.release();
  }
  assert.equal((await openChunkTableForWriting(repo, await acquireLock(repo.target, operationLockName(), 'test writer', 'test'))).has(id!), false, 'a writer does not dedup against a condemned pack');
  assert.ok((await loadChunkTable(repo.target, repo.keys)).has(id!), 'a restore still finds it');
  assert.equal((await openChunkTableForWriting(repo, await acquireLock(repo.target, operationLockName(), 'test writer', 'test'))).has(id!), false);
});

test('a damaged cache file is rebuilt', async () => {
  const { repo, counting } = await newRepo();
  const ids = await storeChunks(repo, new ChunkTable(), 3);
  await loadChunkTable(repo.target, repo.keys);
  closeChunkCaches();
  const path = chunkCachePath(repo.config.repositoryId, cacheDir);
  for (const suffix of ['-wal', '-shm']) rmSync(path + suffix, { force: true });
  writeFileSync(path, randomBytes(8192));
  counting.indexReads = 0;
  const table = await loadChunkTable(repo.target, repo.keys);
  assert.equal(counting.indexReads, 1, 'rebuilt from the pack indexes');
  for (const id of ids) assert.ok(table.has(id));
  closeChunkCaches();
  const db = new DatabaseSync(path);
  assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
  db.close();
});

test('an unusable cache location falls back to the in-memory table with one warning', async () => {
  const plain = await Repository.init(new LocalTarget(join(dir, 'plain-repo')), { passphrase: null });
  await writeSyntheticPackIndexes(plain.target, 1, 100);
  writeFileSync(join(dir, 'not-a-dir'), 'x');
  const r = spawnSync(process.execPath, [SUPPORT, 'load', 'cache', join(dir, 'plain-repo')], {
    env: { ...process.env, VMBAK_CACHE_DIR: join(dir, 'not-a-dir', 'cache') }, encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).indexReads, 1);
  assert.match(r.stderr, /^vmbak: warning: chunk cache .* unusable \(.*\); using an in-memory chunk table\n$/);
});

function runChild(repoDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SUPPORT, 'load', 'cache', repoDir], { env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('two processes fill and use one cache at the same time', async () => {
  const plain = await Repository.init(new LocalTarget(join(dir, 'plain-repo')), { passphrase: null });
  const written = await writeSyntheticPackIndexes(plain.target, 120, 2000);
  const [one, two] = await Promise.all([runChild(join(dir, 'plain-repo')), runChild(join(dir, 'plain-repo'))]);
  for (const r of [one, two]) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no warning: neither fell back to memory');
  }
  const reads = [one, two].map((r) => JSON.parse(r.stdout).indexReads as number);
  assert.ok(reads.every((n) => n <= 120), `${reads}`);
  const plainCounting = new CountingTarget(plain.target);
  const table = await loadChunkTable(plainCounting, null);
  assert.equal(plainCounting.indexReads, 0, 'between them they cached every pack');
  for (const p of written) for (const e of p.entries) assert.deepEqual(table.get(e.chunkId), { packId: p.packId, offsetBytes: e.offsetBytes, lengthBytes: e.lengthBytes });
});

test('a process killed while it fills the cache leaves a usable, consistent cache', async (t) => {
  const plain = await Repository.init(new LocalTarget(join(dir, 'plain-repo')), { passphrase: null });
  const written = await writeSyntheticPackIndexes(plain.target, 300, 2000);
  const path = chunkCachePath(plain.config.repositoryId, cacheDir);
  const consistent = (): number => {
    const db = new DatabaseSync(path);
    try {
      assert.equal((db.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      // Every pack marked complete holds all its rows: a kill never leaves half a pack marked done.
      const complete = db.prepare('SELECT num FROM pack WHERE complete = 1').all() as { num: number }[];
      for (const { num } of complete) assert.equal((db.prepare('SELECT count(*) AS n FROM chunk WHERE pack = ?').get(num) as { n: number }).n, 2000);
      return complete.length;
    } finally {
      db.close();
    }
  };
  // Kill ever later, until a child gets to finish: the kills land while it reads, stages,
  // merges (one transaction of 600k rows) or commits.
  const killed: string[] = [];
  for (let delayMs = 1000; ; delayMs += 250) {
    const child = spawn(process.execPath, [SUPPORT, 'load', 'cache', join(dir, 'plain-repo')], { env: process.env, stdio: 'ignore' });
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise((r) => setTimeout(r, delayMs));
    child.kill('SIGKILL');
    if ((await exit) !== 'SIGKILL') break;
    killed.push(`${delayMs} ms: ${existsSync(path) ? consistent() : 'no file yet'}`);
    if (killed.length > 40) break;
  }
  t.diagnostic(`killed after ${killed.join(', ')} complete packs`);
  assert.ok(killed.filter((k) => !k.endsWith('no file yet')).length >= 2, 'killed at least twice with the cache in use');
  const completeBefore = consistent();
  const counting = new CountingTarget(plain.target);
  const table = await loadChunkTable(counting, null);
  assert.equal(counting.indexReads, 300 - completeBefore, 'what the killed runs committed is kept');
  for (const p of written) for (const e of p.entries) assert.ok(table.has(e.chunkId));
});
