// bench/export-read.ts — how fast `vmbak export` serves a backup's disk (not part of the tests).
//
//   node bench/export-read.ts            # 1 GiB image from make-disk.sh, under bench/work/export-read
//   EXPORT_BENCH_GIB=4 EXPORT_BENCH_IMAGE=/path/disk.raw node bench/export-read.ts
//
// Steps (page cache dropped before each timed one when run as root):
//   1. backup of the image into a fresh encrypted repository (not timed)
//   2. sequential: `vmbak restore --disk` to a file vs `nbdcopy --connections=4` of the export
//      to null: (export already serving; its start-up is reported on its own)
//   3. time to first byte: from starting `vmbak export` (caches dropped) to the first 4 KiB
//      read of a data extent answered — what a VM booting from the export or a
//      `qemu-img convert` waits before anything moves
//   4. 4 KiB random reads, one at a time, at offsets inside data extents: latency p50/p99
//      cold (fresh export process, empty caches) and cached (the same offsets again)
// Needs qemu-utils and libnbd-bin (nbdcopy).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { NbdClient, BASE_ALLOCATION } from '../src/nbd/index.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const VMBAK = resolve(HERE, '../bin/vmbak');
const GIB = Number(process.env.EXPORT_BENCH_GIB ?? 1);
const WORK = resolve(process.env.BENCH_WORK ?? join(HERE, 'work'), 'export-read');
const RANDOM_READS = Number(process.env.EXPORT_BENCH_READS ?? 1000);
const env = { ...process.env, VMBAK_PASSPHRASE: 'bench', VMBAK_REPO: join(WORK, 'repo'), VMBAK_CACHE_DIR: join(WORK, 'cache') };

function dropCaches(): void {
  try { execFileSync('sync'); writeFileSync('/proc/sys/vm/drop_caches', '3'); } catch { /* not root: measured warm */ }
}

function vmbak(...args: string[]): string {
  return execFileSync(VMBAK, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const t0 = performance.now();
  const value = fn();
  return { value, seconds: (performance.now() - t0) / 1000 };
}

function mbps(bytes: number, seconds: number): string {
  return `${(bytes / seconds / 1e6).toFixed(0)} MB/s`;
}

async function startExport(socket: string): Promise<{ stop: () => Promise<void>; startSeconds: number }> {
  rmSync(socket, { force: true });
  const t0 = performance.now();
  const child = spawn(VMBAK, ['export', 'latest', '--socket', socket, '--json'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    child.stdout.once('data', () => res());
    child.once('exit', (code) => rej(new Error(`export exited with ${code}`)));
  });
  const startSeconds = (performance.now() - t0) / 1000;
  return { startSeconds, stop: () => new Promise((res) => { child.once('exit', () => res()); child.kill('SIGINT'); }) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function randomReadLatencies(socket: string, offsets: number[]): Promise<{ p50: number; p99: number }> {
  const client = await NbdClient.connectUnix(socket);
  const ms: number[] = [];
  for (const at of offsets) {
    const t0 = performance.now();
    await client.read(at, 4096);
    ms.push(performance.now() - t0);
  }
  await client.close();
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p99: percentile(ms, 99) };
}

async function main(): Promise<void> {
  mkdirSync(WORK, { recursive: true });
  const image = process.env.EXPORT_BENCH_IMAGE ?? join(WORK, `disk-${GIB}g.raw`);
  if (!existsSync(image)) execFileSync('bash', [join(HERE, 'make-disk.sh'), image, String(GIB), '1'], { stdio: 'inherit' });
  const disk = image.replace(/^.*\//, '').replace(/\.[^.]*$/, '');
  const sizeBytes = statSync(image).size;
  const allocatedBytes = statSync(image).blocks * 512;
  rmSync(join(WORK, 'repo'), { recursive: true, force: true });
  rmSync(join(WORK, 'cache'), { recursive: true, force: true });
  vmbak('repo', 'init');
  vmbak('backup', '--image', image, '--vm', 'bench', '--no-progress');
  console.log(`image ${image}: ${(sizeBytes / 2 ** 30).toFixed(1)} GiB, ${(allocatedBytes / 1e6).toFixed(0)} MB allocated`);

  const out = join(WORK, 'restored');
  rmSync(out, { recursive: true, force: true });
  dropCaches();
  const restore = timed(() => vmbak('restore', 'latest', '--to', out, '--disk', disk, '--no-progress'));
  rmSync(out, { recursive: true, force: true });
  console.log(`sequential  vmbak restore --disk ${disk}: ${restore.seconds.toFixed(2)} s, ${mbps(allocatedBytes, restore.seconds)} of allocated data (whole command)`);

  const socket = join(WORK, 'export.sock');
  const uri = `nbd+unix:///${disk}?socket=${socket}`;
  dropCaches();
  let served = await startExport(socket);
  const copy = timed(() => execFileSync('nbdcopy', ['--connections=4', uri, 'null:']));
  console.log(`sequential  nbdcopy --connections=4 of the export: ${copy.seconds.toFixed(2)} s, ${mbps(allocatedBytes, copy.seconds)} of allocated data; with the export's start-up (${served.startSeconds.toFixed(2)} s) ${mbps(allocatedBytes, copy.seconds + served.startSeconds)}`);
  const probe = await NbdClient.connectUnix(socket, { metaContexts: [BASE_ALLOCATION] });
  const data = (await probe.blockStatus(BASE_ALLOCATION, 0, probe.sizeBytes)).filter((e) => (e.flags & 2) === 0 && e.lengthBytes >= 4096);
  await probe.close();
  await served.stop();

  const dataBytes = data.reduce((s, e) => s + e.lengthBytes, 0);
  // Offsets uniform over the data (holes read no chunks), 4 KiB aligned, inside one extent.
  const offsets = Array.from({ length: RANDOM_READS }, () => {
    let pos = randomInt(dataBytes);
    for (const e of data) {
      if (pos < e.lengthBytes) return e.offsetBytes + Math.min(pos - (pos % 4096), e.lengthBytes - 4096);
      pos -= e.lengthBytes;
    }
    throw new Error('offset outside the data extents');
  });
  dropCaches();
  const ttfbStart = performance.now();
  served = await startExport(socket);
  const first = await NbdClient.connectUnix(socket);
  await first.read(offsets[0]!, 4096);
  const ttfbSeconds = (performance.now() - ttfbStart) / 1000;
  await first.close();
  await served.stop();
  console.log(`time to first byte: ${ttfbSeconds.toFixed(2)} s from starting vmbak export (cold caches) to the first 4 KiB read answered; the export's start-up alone ${served.startSeconds.toFixed(2)} s`);

  dropCaches();
  served = await startExport(socket);
  const cold = await randomReadLatencies(socket, offsets);
  const cached = await randomReadLatencies(socket, offsets);
  await served.stop();
  console.log(`random 4 KiB reads (${RANDOM_READS}, queue depth 1, in data extents): cold p50 ${cold.p50.toFixed(2)} ms, p99 ${cold.p99.toFixed(2)} ms; cached p50 ${cached.p50.toFixed(3)} ms, p99 ${cached.p99.toFixed(3)} ms`);
}

await main();
