// bench/file-restore.ts — what file-level restore costs on a realistic disk (not part of the tests).
//
//   node bench/file-restore.ts                   # 1 GiB image, ~300 MiB used, under bench/work/file-restore
//   FILES_BENCH_USED_MIB=600 node bench/file-restore.ts
//   node bench/file-restore.ts --prepare         # only build the image
//
// The image is make-disk.sh's (a sample of /usr, the host's /etc, logs, random blobs), made a
// guest OS that libguestfs inspection recognises — /bin as a symlink to usr/bin, an fstab
// naming the root by label — and given a 100 MiB incompressible file, all with debugfs on the
// partition in place (no mount). Then, one command each (one appliance each, as a user runs them):
//   1. `files ls BACKUP`             → the appliance start (launchMs) and the whole command
//   2. `files ls BACKUP /etc`        → a bare path: inspection, mounting, ~200 entries stat'ed
//   3. `files get BACKUP /srv/big-100m.bin --to DIR` → the 100 MiB file, checked by SHA-256
// Page cache dropped before each when root. The image is left for bench/export-read.ts
// (EXPORT_BENCH_IMAGE=…/disk.raw) so both benches read the same disk.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const VMBAK = resolve(HERE, '../bin/vmbak');
const WORK = resolve(process.env.BENCH_WORK ?? join(HERE, 'work'), 'file-restore');
const USED_MIB = process.env.FILES_BENCH_USED_MIB ?? '300';
const BIG_BYTES = 100 * 1024 * 1024;
const PARTITION_OFFSET = 1024 * 1024; // make-disk.sh's one partition starts at sector 2048
const env = { ...process.env, VMBAK_PASSPHRASE: 'bench', VMBAK_REPO: join(WORK, 'repo'), VMBAK_CACHE_DIR: join(WORK, 'cache') };

function dropCaches(): void {
  try { execFileSync('sync'); writeFileSync('/proc/sys/vm/drop_caches', '3'); } catch { /* not root: measured warm */ }
}

function vmbakJson<T>(...args: string[]): { value: T; seconds: number } {
  dropCaches();
  const t0 = performance.now();
  const out = execFileSync(VMBAK, [...args, '--json'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return { value: JSON.parse(out.trim().split('\n').pop()!) as T, seconds: (performance.now() - t0) / 1000 };
}

/** Makes make-disk.sh's ext4 a guest OS to inspection and adds the big file, in place. */
function makeGuestOs(image: string, big: string): void {
  const fstab = join(WORK, 'fstab');
  writeFileSync(fstab, 'LABEL=root / ext4 defaults 0 1\n');
  const script = join(WORK, 'debugfs.cmds');
  writeFileSync(script, ['rm /etc/fstab', `write ${fstab} /etc/fstab`, 'symlink /bin usr/bin', 'mkdir /srv', `write ${big} /srv/big-100m.bin`, ''].join('\n'));
  // debugfs prints "ext2_lookup: file not found" style complaints for what is absent; only the result counts.
  execFileSync('debugfs', ['-w', '-f', script, `${image}?offset=${PARTITION_OFFSET}`], { stdio: 'ignore' });
  execFileSync('e2fsck', ['-fn', `${image}?offset=${PARTITION_OFFSET}`], { stdio: 'ignore' });
}

function main(): void {
  mkdirSync(WORK, { recursive: true });
  const image = join(WORK, 'disk.raw');
  const big = join(WORK, 'big-100m.bin');
  if (!existsSync(image)) {
    execFileSync('bash', [join(HERE, 'make-disk.sh'), image, '1', '1'], { stdio: 'inherit', env: { ...process.env, USED_MIB } });
    writeFileSync(big, randomBytes(BIG_BYTES));
    makeGuestOs(image, big);
  }
  // --prepare: build the image only (slow, untimed), e.g. while the machine is busy.
  if (process.argv.includes('--prepare')) return;
  const bigSha = createHash('sha256').update(readFileSync(big)).digest('hex');
  rmSync(join(WORK, 'repo'), { recursive: true, force: true });
  rmSync(join(WORK, 'cache'), { recursive: true, force: true });
  execFileSync(VMBAK, ['repo', 'init'], { env, stdio: 'ignore' });
  execFileSync(VMBAK, ['backup', '--image', image, '--vm', 'bench', '--no-progress'], { env, stdio: 'ignore' });
  console.log(`image ${image}: ${(statSync(image).size / 2 ** 30).toFixed(1)} GiB, ${(statSync(image).blocks * 512 / 1e6).toFixed(0)} MB allocated`);

  const fss = vmbakJson<{ launchMs: number; filesystems: { id: string; type: string }[] }>('files', 'ls', 'latest');
  console.log(`files ls BACKUP: ${fss.seconds.toFixed(1)} s, appliance start ${(fss.value.launchMs / 1000).toFixed(1)} s; ${fss.value.filesystems.map((f) => `${f.id} ${f.type}`).join(', ')}`);
  const etc = vmbakJson<{ launchMs: number; entries: unknown[] }>('files', 'ls', 'latest', '/etc');
  console.log(`files ls BACKUP /etc: ${etc.seconds.toFixed(1)} s (appliance start ${(etc.value.launchMs / 1000).toFixed(1)} s, so ${(etc.seconds - etc.value.launchMs / 1000).toFixed(1)} s for the rest), ${etc.value.entries.length} entries`);
  const out = join(WORK, 'out');
  rmSync(out, { recursive: true, force: true });
  const get = vmbakJson<{ launchMs: number; durationMs: number }>('files', 'get', 'latest', '/srv/big-100m.bin', '--to', out);
  const gotSha = createHash('sha256').update(readFileSync(join(out, 'big-100m.bin'))).digest('hex');
  if (gotSha !== bigSha) throw new Error('the copied 100 MiB file differs from the original');
  const copySeconds = (get.value.durationMs - get.value.launchMs) / 1000;
  console.log(`files get BACKUP /srv/big-100m.bin: ${get.seconds.toFixed(1)} s (appliance start ${(get.value.launchMs / 1000).toFixed(1)} s; after it ${copySeconds.toFixed(1)} s, ${(BIG_BYTES / copySeconds / 1e6).toFixed(1)} MB/s), SHA-256 matches`);
  rmSync(out, { recursive: true, force: true });
}

main();
