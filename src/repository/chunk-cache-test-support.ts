// Support for the chunk cache's tests and measurements (not part of vmbak): synthetic pack
// indexes, a target that counts reads, and a child-process entry point, so tests can run
// loads in other processes (to share or kill them) and measure memory of one load alone.
//
//   node src/repository/chunk-cache-test-support.ts measure [chunks] [entriesPerPack]
// builds a repository of synthetic pack indexes and prints open time and RSS of the
// in-memory table against the cache (cold, warm, warm plus one new pack).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ByteRange, ObjectInfo, Target } from '../core/index.ts';
import { LocalTarget } from '../targets/index.ts';
import { Repository } from './repository.ts';
import { decodePackHeader, encodePackHeader, type PackEntry } from './pack-format.ts';
import { packIndexObject, PACK_INDEX_PREFIX } from './layout.ts';
import { loadChunkTable, loadChunkTableInMemory } from './chunk-store.ts';
import type { ChunkTable } from './chunk-table.ts';

/** Writes index objects (no packs: opening never reads them) of `count` packs of random chunks. */
export async function writeSyntheticPackIndexes(target: Target, count: number, entriesPerPack: number): Promise<{ packId: string; entries: PackEntry[] }[]> {
  const packs: { packId: string; entries: PackEntry[] }[] = [];
  for (let p = 0; p < count; p++) {
    const entries = Array.from({ length: entriesPerPack }, (_, i) => ({ chunkId: randomBytes(32), offsetBytes: i * 30_000, lengthBytes: 30_000 }));
    const packId = randomBytes(32).toString('hex');
    await target.put(packIndexObject(packId), encodePackHeader(null, entries));
    packs.push({ packId, entries });
  }
  return packs;
}

/** A real target that counts the pack index objects read through it. */
export class CountingTarget implements Target {
  indexReads = 0;
  readonly displayUrl: string;
  private readonly inner: Target;
  constructor(inner: Target) {
    this.inner = inner;
    this.displayUrl = inner.displayUrl;
  }
  put(name: string, data: Uint8Array): Promise<void> { return this.inner.put(name, data); }
  create(name: string, data: Uint8Array): Promise<boolean> { return this.inner.create(name, data); }
  get(name: string, range?: ByteRange): Promise<Buffer> {
    if (name.startsWith(PACK_INDEX_PREFIX)) this.indexReads++;
    return this.inner.get(name, range);
  }
  list(prefix: string): Promise<ObjectInfo[]> { return this.inner.list(prefix); }
  delete(name: string): Promise<void> { return this.inner.delete(name); }
  stat(name: string): Promise<ObjectInfo | null> { return this.inner.stat(name); }
  close(): Promise<void> { return this.inner.close(); }
}

const peakRssMiB = (): number => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

/** Times `lookups` has() calls, half of them for stored chunks. */
function timeLookups(table: ChunkTable, stored: readonly Buffer[], lookups: number): number {
  const ids = Array.from({ length: lookups }, (_, i) => (i % 2 === 0 ? stored[(i * 7919) % stored.length]! : randomBytes(32)));
  const t0 = performance.now();
  let hits = 0;
  for (const id of ids) if (table.has(id)) hits++;
  const ms = performance.now() - t0;
  if (hits < lookups / 2) throw new Error(`only ${hits} of ${lookups / 2} stored chunks found`);
  return (ms * 1000) / lookups;
}

/** Child: opens the table of the repository in `dir` and prints what it cost as JSON. */
async function childLoad(mode: string, dir: string): Promise<void> {
  const target = new CountingTarget(new LocalTarget(dir));
  const t0 = performance.now();
  const table = mode === 'memory' ? await loadChunkTableInMemory(target, null) : await loadChunkTable(target, null);
  const openMs = performance.now() - t0;
  const rssAfterOpenMiB = process.memoryUsage().rss / 2 ** 20;
  const sample: Buffer[] = [];
  const uncounted = new LocalTarget(dir);
  for (const o of (await uncounted.list(PACK_INDEX_PREFIX)).slice(0, 50)) {
    for (const e of decodePackHeader(null, await uncounted.get(o.name))!) sample.push(e.chunkId);
  }
  const lookupUs = timeLookups(table, sample, 37_000);
  process.stdout.write(`${JSON.stringify({ mode, openMs: Math.round(openMs), indexReads: target.indexReads, rssAfterOpenMiB: Math.round(rssAfterOpenMiB), peakRssMiB: Math.round(peakRssMiB()), lookupUs: Number(lookupUs.toFixed(2)) })}\n`);
}

async function measure(chunks: number, entriesPerPack: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-cache-measure-'));
  const cacheDir = join(dir, 'cache');
  try {
    const repo = await Repository.init(new LocalTarget(join(dir, 'repo')), { passphrase: null });
    const packs = Math.ceil(chunks / entriesPerPack);
    await writeSyntheticPackIndexes(repo.target, packs, entriesPerPack);
    process.stdout.write(`${packs} packs × ${entriesPerPack} entries = ${packs * entriesPerPack} chunks\n`);
    const run = (mode: string, label: string, repoDir = join(dir, 'repo')): void => {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'load', mode, repoDir], { env: { ...process.env, VMBAK_CACHE_DIR: cacheDir }, encoding: 'utf8' });
      process.stdout.write(`${label}: ${out}`);
    };
    const empty = await Repository.init(new LocalTarget(join(dir, 'empty')), { passphrase: null });
    await writeSyntheticPackIndexes(empty.target, 1, 100);
    run('memory', 'baseline: 100 chunks     ', join(dir, 'empty'));
    run('memory', 'in-memory table          ');
    run('cache', 'cache, first open (cold)  ');
    run('cache', 'cache, reopen (warm)      ');
    await writeSyntheticPackIndexes(repo.target, 1, entriesPerPack);
    run('cache', 'cache, reopen + 1 new pack');
    const size = execFileSync('du', ['-sh', cacheDir], { encoding: 'utf8' }).split('\t')[0];
    process.stdout.write(`cache on disk: ${size}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [cmd, a, b] = process.argv.slice(2);
  if (cmd === 'load') await childLoad(a!, b!);
  else if (cmd === 'measure') await measure(Number(a ?? 2_000_000), Number(b ?? 1000));
  else throw new Error('usage: chunk-cache-test-support.ts measure [chunks] [entriesPerPack] | load memory|cache DIR');
}
