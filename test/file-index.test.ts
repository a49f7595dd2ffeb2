// File index and search end to end, with real guest filesystems read by libguestfs's
// appliance: three VMs (GPT + two ext4, MBR + ext4 + FAT, a whole-disk ext4), each backed up
// at two points in time with changes in between, indexed with `vmbak index`, then searched
// with `vmbak files find`. Checks the exact versions (size, mtime, SHA-256) per VM and point
// in time, that the second index walks only the filesystems whose blocks changed (and starts
// no appliance when no disk changed), that a guest past a cap is an error recorded for that
// filesystem, and that the index objects travel with `vmbak copy`. Each index that walks
// starts one appliance (~20 s under TCG): six of them in all.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { vmbak, tempDir, jsonLine, type CliResult } from './support/vmbak-cli.ts';
import { buildDisk, buildExt4, sh } from './support/guest-images.ts';

const tmp = tempDir('file-index');
const repo = join(tmp.dir, 'repo');
const env = { VMBAK_PASSPHRASE: 'correct horse', VMBAK_REPO: repo };
const T1 = 1_790_000_000; // 2026-09-21
const T2 = 1_795_000_000; // 2026-11-18
const T3 = 1_796_000_000;
const v1 = randomBytes(200_000);
const v2 = randomBytes(210_000);
const v3 = randomBytes(5_000);
const big = randomBytes(2 * 1024 * 1024); // past the 1 MiB hash limit
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const p = (...parts: string[]) => join(tmp.dir, ...parts);

function put(path: string, data: Buffer | string, mtimeS = T1): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, data);
  utimesSync(path, mtimeS, mtimeS);
}

async function ok(args: string[], e: NodeJS.ProcessEnv = env): Promise<CliResult> {
  const r = await vmbak(args, e);
  assert.equal(r.code, 0, `vmbak ${args.join(' ')}: ${r.stderr}`);
  return r;
}

interface IndexJson { backupId: string; walked: string[]; reused: string[]; launchMs: number | null; durationMs: number; baseBackupId: string | null; filesystems: { id: string; entries: number; error: string | null; extentDigest: string | null }[] }
interface FindJson { files: { vm: string; fs: string; path: string; versions: { sizeBytes: number; mtime: string; sha256: string | null; backups: { backupId: string }[] }[] }[]; unindexed: string[] }

const ids: Record<string, string[]> = { alpha: [], beta: [], gamma: [] };
const indexed: Record<string, IndexJson[]> = { alpha: [], beta: [], gamma: [] };
let betweenMs = 0;

function buildAlpha(invoice: Buffer, mtimeS: number): void {
  put(p('alpha1', 'docs', 'invoice-2026-11.pdf'), invoice, mtimeS);
  put(p('alpha1', 'home', 'notes.txt'), 'notes\n');
  buildExt4(p('alpha1.part'), p('alpha1'), 16);
  buildDisk(p('alpha.img'), 34, 'gpt', [{ file: p('alpha1.part'), sizeMiB: 16 }, { file: p('alpha2.part'), sizeMiB: 16 }]);
}

async function backupAll(): Promise<void> {
  for (const vm of ['alpha', 'beta', 'gamma']) {
    const r = await ok(['backup', '--image', p(`${vm}.img`), '--vm', vm, '--no-progress', '--json']);
    ids[vm]!.push(jsonLine<{ backupId: string }>(r).backupId);
  }
}

async function index(vm: string, extra: string[] = []): Promise<IndexJson> {
  const r = jsonLine<IndexJson>(await ok(['index', `${vm}@latest`, '--json', ...extra]));
  // The extent digests decide what is reused: printed so that a wrong walk can be told apart
  // (no extents found: null; the blocks differ: another digest).
  const digests = r.filesystems.map((f) => `${f.id}=${f.extentDigest?.slice(0, 12) ?? 'null'}`).join(' ');
  process.stderr.write(`# index ${vm} ${r.backupId}: walked [${r.walked}] reused [${r.reused}] base ${r.baseBackupId} digests ${digests} launch ${r.launchMs} ms, total ${r.durationMs} ms\n`);
  return r;
}

before(async () => {
  // alpha: GPT, ext4 p1 (changes), ext4 p2 (never changes: the same partition image both times).
  put(p('alpha2', 'data', 'big.bin'), big);
  buildExt4(p('alpha2.part'), p('alpha2'), 16);
  buildAlpha(v1, T1);
  // beta: MBR, ext4 holding the same invoice as alpha's first, FAT beside it; never changes.
  put(p('beta1', 'invoice-2026-11.pdf'), v1, T1);
  buildExt4(p('beta1.part'), p('beta1'), 16);
  sh('mkfs.vfat', ['-C', p('beta2.part'), String(8 * 1024)]);
  sh('mcopy', ['-i', p('beta2.part'), p('alpha1', 'home', 'notes.txt'), '::/report.txt']);
  buildDisk(p('beta.img'), 26, 'dos', [{ file: p('beta1.part'), sizeMiB: 16 }, { file: p('beta2.part'), sizeMiB: 8 }]);
  // gamma: a whole-disk ext4 without a partition table; the invoice appears later.
  put(p('gamma1', 'etc', 'hostname'), 'gamma\n');
  buildExt4(p('gamma.img'), p('gamma1'), 16);
  await ok(['repo', 'init']);
});
after(() => tmp.remove());

test('a guest past the entry cap is an error recorded for that filesystem, not a partial listing', async () => {
  await backupAll();
  const capped = await index('gamma', ['--max-entries', '2']);
  assert.deepEqual(capped.walked, []);
  assert.match(capped.filesystems[0]!.error ?? '', /more than 2 entries/);
});

test('first indexes walk every filesystem; the second ones only those whose blocks changed', async () => {
  for (const vm of ['alpha', 'beta', 'gamma']) indexed[vm]!.push(await index(vm));
  assert.deepEqual(indexed.alpha![0]!.walked, ['alpha/p1', 'alpha/p2']);
  assert.deepEqual(indexed.beta![0]!.walked, ['beta/p1', 'beta/p2']);
  // The capped index of gamma is not a base: its only filesystem has an error.
  assert.deepEqual(indexed.gamma![0]!.walked, ['gamma']);
  betweenMs = Date.now();
  await new Promise((r) => setTimeout(r, 1100));
  buildAlpha(v2, T2);
  put(p('gamma1', 'invoice-2026-11.pdf'), v3, T3);
  buildExt4(p('gamma.img'), p('gamma1'), 16);
  await backupAll();
  for (const vm of ['alpha', 'beta', 'gamma']) indexed[vm]!.push(await index(vm));
  const [a, b, g] = [indexed.alpha![1]!, indexed.beta![1]!, indexed.gamma![1]!];
  assert.deepEqual([a.walked, a.reused, a.baseBackupId], [['alpha/p1'], ['alpha/p2'], ids.alpha![0]]);
  assert.deepEqual([b.walked, b.reused, b.launchMs], [[], ['beta/p1', 'beta/p2'], null]);
  assert.deepEqual([g.walked, g.reused], [['gamma'], []]);
  assert.ok(b.durationMs < indexed.beta![0]!.durationMs / 4, `unchanged VM: ${b.durationMs} ms vs ${indexed.beta![0]!.durationMs} ms`);
});

test('files find answers which VMs and points in time hold a file, in which versions', async () => {
  const all = jsonLine<FindJson>(await ok(['files', 'find', 'invoice-2026-11.pdf', '--json']));
  const summary = all.files.map((f) => ({
    vm: f.vm, at: `${f.fs}:${f.path}`,
    versions: f.versions.map((v) => [v.sizeBytes, v.mtime, v.sha256, v.backups.map((x) => x.backupId)]),
  }));
  const iso = (s: number) => new Date(s * 1000).toISOString();
  assert.deepEqual(summary, [
    { vm: 'alpha', at: 'alpha/p1:/docs/invoice-2026-11.pdf', versions: [[v1.length, iso(T1), sha(v1), [ids.alpha![0]]], [v2.length, iso(T2), sha(v2), [ids.alpha![1]]]] },
    { vm: 'beta', at: 'beta/p1:/invoice-2026-11.pdf', versions: [[v1.length, iso(T1), sha(v1), ids.beta]] },
    { vm: 'gamma', at: 'gamma:/invoice-2026-11.pdf', versions: [[v3.length, iso(T3), sha(v3), [ids.gamma![1]]]] },
  ]);
  assert.deepEqual(all.unindexed, []);
  const sinceSecond = jsonLine<FindJson>(await ok(['files', 'find', 'INVOICE-*.pdf', '--since', new Date(betweenMs).toISOString(), '--vm', 'alpha', '--json']));
  assert.deepEqual(sinceSecond.files.map((f) => [f.vm, f.versions.map((v) => v.backups.map((x) => x.backupId))]), [['alpha', [[ids.alpha![1]]]]]);
  // Past the hash limit: size and mtime, no hash; FAT and paths with a folder pattern work too.
  const bigFound = jsonLine<FindJson>(await ok(['files', 'find', 'data/big.bin', '--json']));
  assert.deepEqual(bigFound.files[0]!.versions.map((v) => [v.sizeBytes, v.sha256, v.backups.length]), [[big.length, null, 2]]);
  const fat = jsonLine<FindJson>(await ok(['files', 'find', 'report.txt', '--json']));
  assert.deepEqual(fat.files.map((f) => `${f.fs}:${f.path}`), ['beta/p2:/report.txt']);
});

test('the index objects travel with vmbak copy and answer from the copy alone', async () => {
  const dest = p('repo2');
  await ok(['repo', 'init'], { ...env, VMBAK_REPO: dest });
  await ok(['copy', '--from', repo, '--to', dest, '--all', '--no-progress']);
  const there = jsonLine<FindJson>(await ok(['files', 'find', 'invoice-2026-11.pdf', '--json'], { ...env, VMBAK_REPO: dest }));
  const here = jsonLine<FindJson>(await ok(['files', 'find', 'invoice-2026-11.pdf', '--json']));
  assert.deepEqual(there.unindexed, []);
  assert.deepEqual(there.files.map((f) => f.versions.map((v) => [v.sizeBytes, v.mtime, v.sha256, v.backups.length])), here.files.map((f) => f.versions.map((v) => [v.sizeBytes, v.mtime, v.sha256, v.backups.length])));
});

test('prune and gc keep the index of a kept backup and take that of a pruned one with it', async () => {
  const indexObject = (id: string) => existsSync(join(repo, 'backups', id, 'files.index'));
  assert.ok(indexObject(ids.alpha![0]!) && indexObject(ids.alpha![1]!));
  await ok(['prune', '--vm', 'alpha', '--keep-last', '1']);
  await ok(['gc']);
  assert.deepEqual([indexObject(ids.alpha![0]!), indexObject(ids.alpha![1]!)], [false, true]);
  const left = jsonLine<FindJson>(await ok(['files', 'find', 'invoice-2026-11.pdf', '--vm', 'alpha', '--json']));
  assert.deepEqual(left.files.map((f) => f.versions.map((v) => v.backups.map((b) => b.backupId))), [[[ids.alpha![1]]]]);
});
