// File index benchmark (not part of the test suite): a GPT disk with an ext4 of N files
// (default 100 000, 1–8 KiB of random bytes each, in 1000 folders: every file is under the
// hash limit, so every one is hashed) beside a small ext4 that changes, backed up and indexed
// with `vmbak index`; then the small filesystem is changed, backed up and indexed again
// (incremental: the big filesystem's blocks are unchanged, so it is not walked); then one
// file of the big filesystem is changed (it is walked again in full: the honest worst case of
// the block-based design). Prints index time (appliance start apart), object size, per-file
// cost extrapolated per million files, and the incremental's share of the first.
//
//   node bench/file-index.ts [--files 100000] [--hash-limit 1M] [--keep]

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const { values: args } = parseArgs({ options: { files: { type: 'string', default: '100000' }, 'hash-limit': { type: 'string', default: '1M' }, keep: { type: 'boolean', default: false } } });
const fileCount = Number(args.files);
const VMBAK = fileURLToPath(new URL('../bin/vmbak', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'vmbak-index-bench-'));
const env = { ...process.env, VMBAK_PASSPHRASE: 'bench', VMBAK_REPO: join(work, 'repo') };
const sh = (cmd: string, a: string[], input?: string) => execFileSync(cmd, a, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString();
const vmbak = (a: string[]) => execFileSync(VMBAK, a, { env, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 }).toString();

interface IndexJson { backupId: string; walked: string[]; reused: string[]; launchMs: number | null; durationMs: number; filesystems: { id: string; entries: number }[] }

function buildPart(path: string, src: string, sizeMiB: number, inodes?: number): void {
  rmSync(path, { force: true });
  sh('mkfs.ext4', ['-q', '-F', ...(inodes ? ['-N', String(inodes)] : []), '-d', src, path, `${sizeMiB}M`]);
}

function buildDisk(img: string, parts: { file: string; sizeMiB: number }[]): void {
  const total = parts.reduce((s, p) => s + p.sizeMiB, 2);
  rmSync(img, { force: true });
  sh('truncate', ['-s', `${total}M`, img]);
  let start = 1;
  sh('sfdisk', ['-q', img], `label: gpt\n${parts.map((p) => { const l = `start=${start * 2048}, size=${p.sizeMiB * 2048}`; start += p.sizeMiB; return l; }).join('\n')}\n`);
  start = 1;
  for (const p of parts) { sh('dd', [`if=${p.file}`, `of=${img}`, 'bs=1M', `seek=${start}`, 'conv=notrunc,sparse', 'status=none']); start += p.sizeMiB; }
}

function indexObjectBytes(backupId: string): number {
  return statSync(join(work, 'repo', 'backups', backupId, 'files.index')).size;
}

function step(label: string): { r: IndexJson; bytes: number } {
  vmbak(['backup', '--image', join(work, 'bench.img'), '--vm', 'bench', '--no-progress']);
  const r = JSON.parse(vmbak(['index', 'bench@latest', '--json', '--hash-limit', args['hash-limit']!]).trim().split('\n').at(-1)!) as IndexJson;
  const bytes = indexObjectBytes(r.backupId);
  const entries = r.filesystems.reduce((s, f) => s + f.entries, 0);
  process.stdout.write(`${label}: ${(r.durationMs / 1000).toFixed(1)} s (appliance start ${((r.launchMs ?? 0) / 1000).toFixed(1)} s), walked [${r.walked}] reused [${r.reused}], ${entries} entries, index object ${(bytes / 1e6).toFixed(2)} MB\n`);
  return { r, bytes };
}

try {
  const t0 = Date.now();
  const big = join(work, 'big');
  for (let d = 0; d < 1000; d++) {
    const dir = join(big, `d${String(d).padStart(4, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < fileCount / 1000; f++) writeFileSync(join(dir, `file-${f}.dat`), randomBytes(1024 + ((d * 7919 + f * 104729) % 7168)));
  }
  const small = join(work, 'small');
  mkdirSync(small);
  writeFileSync(join(small, 'log.txt'), 'first\n');
  const bigMiB = Math.ceil((fileCount * 9 * 1024) / (1 << 20)) + 64;
  buildPart(join(work, 'big.part'), big, bigMiB, fileCount + 2000);
  buildPart(join(work, 'small.part'), small, 16);
  buildDisk(join(work, 'bench.img'), [{ file: join(work, 'big.part'), sizeMiB: bigMiB }, { file: join(work, 'small.part'), sizeMiB: 16 }]);
  process.stdout.write(`built ${fileCount} files on a ${bigMiB + 18} MiB disk in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  vmbak(['repo', 'init']);

  const first = step('first index');
  writeFileSync(join(small, 'log.txt'), 'second\n');
  buildPart(join(work, 'small.part'), small, 16);
  buildDisk(join(work, 'bench.img'), [{ file: join(work, 'big.part'), sizeMiB: bigMiB }, { file: join(work, 'small.part'), sizeMiB: 16 }]);
  const incremental = step('incremental (small fs changed)');
  // One file added to the big filesystem (debugfs: no mount), so some of its blocks differ.
  const victim = join(big, 'd0000', 'file-0.dat');
  writeFileSync(victim, randomBytes(2048));
  sh('debugfs', ['-w', '-R', `write ${victim} /d0000/file-0.dat.new`, join(work, 'big.part')]);
  buildDisk(join(work, 'bench.img'), [{ file: join(work, 'big.part'), sizeMiB: bigMiB }, { file: join(work, 'small.part'), sizeMiB: 16 }]);
  const worst = step('incremental (one file added to the big fs)');

  const walkMs = first.r.durationMs - (first.r.launchMs ?? 0);
  const perMillion = (ms: number) => (ms * (1_000_000 / fileCount)) / 1000;
  process.stdout.write([
    '',
    `files                          ${fileCount}`,
    `first index                    ${(first.r.durationMs / 1000).toFixed(1)} s = ${((first.r.launchMs ?? 0) / 1000).toFixed(1)} s appliance + ${(walkMs / 1000).toFixed(1)} s walk, hash and store`,
    `  per million files            ~${(perMillion(walkMs) / 60).toFixed(1)} min walk (+ one appliance start)`,
    `index object                   ${(first.bytes / 1e6).toFixed(2)} MB (${(first.bytes / fileCount).toFixed(1)} B/file; ~${((first.bytes / fileCount) * 1e6 / 1e6).toFixed(0)} MB per million)`,
    `incremental, big fs unchanged  ${(incremental.r.durationMs / 1000).toFixed(1)} s = ${(100 * incremental.r.durationMs / first.r.durationMs).toFixed(0)}% of the first (goal ≤ 25%)`,
    `incremental, big fs changed    ${(worst.r.durationMs / 1000).toFixed(1)} s = ${(100 * worst.r.durationMs / first.r.durationMs).toFixed(0)}% of the first (re-walks that filesystem)`,
    '',
  ].join('\n'));
} finally {
  if (args.keep) process.stdout.write(`kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
}

