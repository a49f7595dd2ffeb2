import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { isVmbakError } from '../core/index.ts';
import type { DiskSource } from '../core/index.ts';
import { openImageSource } from './index.ts';

const MiB = 1024 * 1024;
const WRITES = ['write -P 0xab 1M 64k', 'write -P 0x11 10M 3M', 'write -P 0x22 31M 1M'];
const DATA_RANGES = [[1 * MiB, 64 * 1024], [10 * MiB, 3 * MiB], [31 * MiB, 1 * MiB]];

function haveQemu(t: TestContext): boolean {
  try {
    execFileSync('which', ['qemu-nbd', 'qemu-img', 'qemu-io'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI === 'true') throw new Error('qemu-utils is missing (run scripts/install-system-deps.sh)');
    t.skip('qemu-utils is not installed');
    return false;
  }
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vmbak-img-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function makeImage(file: string, format: string, size: string, writes: string[]): string {
  execFileSync('qemu-img', ['create', '-q', '-f', format, file, size]);
  execFileSync('qemu-io', ['-f', format, ...writes.flatMap((c) => ['-c', c]), file], { stdio: 'ignore' });
  return file;
}

function qemuNbdFor(imagePath: string): string {
  try { return execFileSync('pgrep', ['-f', `qemu-nbd.*${imagePath}`], { encoding: 'utf8' }).trim(); } catch { return ''; }
}

async function checkSource(source: DiskSource, expectedRaw: Buffer): Promise<void> {
  assert.equal(source.sizeBytes, expectedRaw.length);
  const extents = await source.mapAllocation(0, source.sizeBytes);
  assert.equal(extents.reduce((sum, e) => sum + e.lengthBytes, 0), source.sizeBytes);
  for (const e of extents) {
    const bytes = expectedRaw.subarray(e.offsetBytes, e.offsetBytes + e.lengthBytes);
    if (e.zero) assert.ok(bytes.equals(Buffer.alloc(bytes.length)), `zero extent at ${e.offsetBytes} holds data`);
  }
  for (const [offset, length] of DATA_RANGES) {
    assert.ok(extents.some((e) => !e.zero && e.offsetBytes <= offset! && e.offsetBytes + e.lengthBytes >= offset! + length!),
      `data at ${offset} is reported as data`);
  }
  const reads = await Promise.all(Array.from({ length: source.sizeBytes / (4 * MiB) }, (_, i) => source.read(i * 4 * MiB, 4 * MiB)));
  assert.ok(Buffer.concat(reads).equals(expectedRaw));
}

for (const format of ['qcow2', 'raw']) {
  test(`${format}: holes map as zero, data as data, reads are exact, qemu-nbd gone after close`, async (t) => {
    if (!haveQemu(t)) return;
    const dir = tempDir(t);
    const img = makeImage(path.join(dir, `disk1.${format}`), format, '32M', WRITES);
    const rawCopy = path.join(dir, 'expected.bin');
    execFileSync('qemu-img', ['convert', '-O', 'raw', img, rawCopy]);
    const source = await openImageSource(img);
    assert.equal(source.name, 'disk1');
    const zeroBytes = (await source.mapAllocation(0, source.sizeBytes)).filter((e) => e.zero).reduce((s, e) => s + e.lengthBytes, 0);
    assert.ok(zeroBytes >= 27 * MiB, `holes are zero (${zeroBytes} bytes)`);
    await checkSource(source, readFileSync(rawCopy));
    assert.notEqual(qemuNbdFor(img), '');
    await source.close();
    assert.equal(qemuNbdFor(img), '', 'qemu-nbd still running after close');
  });
}

for (const format of ['vmdk', 'vhdx']) {
  test(`${format} converted from qcow2 reads the same bytes`, async (t) => {
    if (!haveQemu(t)) return;
    const dir = tempDir(t);
    const qcow = makeImage(path.join(dir, 'base.qcow2'), 'qcow2', '32M', WRITES);
    const img = path.join(dir, `conv.${format}`);
    execFileSync('qemu-img', ['convert', '-O', format, qcow, img]);
    const rawCopy = path.join(dir, 'expected.bin');
    execFileSync('qemu-img', ['convert', '-O', 'raw', qcow, rawCopy]);
    const source = await openImageSource(img, { name: 'sda' });
    t.after(() => source.close());
    assert.equal(source.name, 'sda');
    await checkSource(source, readFileSync(rawCopy));
  });
}

test('qcow2 overlay reads through its backing file; a missing backing file is refused', async (t) => {
  if (!haveQemu(t)) return;
  const dir = tempDir(t);
  const base = makeImage(path.join(dir, 'base.qcow2'), 'qcow2', '8M', ['write -P 0x5a 0 1M']);
  const overlay = path.join(dir, 'top.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', overlay]);
  execFileSync('qemu-io', ['-c', 'write -P 0x6b 4M 1M', overlay], { stdio: 'ignore' });
  const source = await openImageSource(overlay);
  assert.ok((await source.read(0, MiB)).equals(Buffer.alloc(MiB, 0x5a)));
  assert.ok((await source.read(4 * MiB, MiB)).equals(Buffer.alloc(MiB, 0x6b)));
  const extents = await source.mapAllocation(0, MiB);
  assert.ok(extents.every((e) => !e.zero), 'backing data is not reported as zero');
  await source.close();

  const orphan = path.join(dir, 'orphan.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-u', '-b', path.join(dir, 'gone.qcow2'), '-F', 'qcow2', orphan, '8M']);
  await assert.rejects(openImageSource(orphan), (err) => isVmbakError(err, 'NOT_A_DISK_IMAGE') && /gone\.qcow2/.test((err as Error).message));
});

test('bad input: text file, missing file, directory, wrong format', async (t) => {
  if (!haveQemu(t)) return;
  const dir = tempDir(t);
  const text = path.join(dir, 'notes.txt');
  writeFileSync(text, 'these are not the sectors you are looking for\n');
  await assert.rejects(openImageSource(text), (err) => isVmbakError(err, 'NOT_A_DISK_IMAGE') && !(err as Error).message.includes('\n'));
  await assert.rejects(openImageSource(path.join(dir, 'missing.qcow2')), (err) => isVmbakError(err, 'IMAGE_NOT_FOUND'));
  await assert.rejects(openImageSource(dir), (err) => isVmbakError(err, 'NOT_A_DISK_IMAGE'));
  const raw = makeImage(path.join(dir, 'plain.raw'), 'raw', '1M', []);
  await assert.rejects(openImageSource(raw, { format: 'qcow2' }), (err) => isVmbakError(err, 'NOT_A_DISK_IMAGE'));
});

test('a killed parent leaves no qemu-nbd behind', async (t) => {
  if (!haveQemu(t)) return;
  const dir = tempDir(t);
  const img = makeImage(path.join(dir, 'orphan-check.qcow2'), 'qcow2', '8M', ['write -P 0x01 0 64k']);
  const script = `import { openImageSource } from ${JSON.stringify(path.resolve('src/hypervisors/index.ts'))};
    await openImageSource(${JSON.stringify(img)}); console.log('open'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('open')) resolve(); });
    child.once('exit', () => reject(new Error('child exited early')));
  });
  assert.notEqual(qemuNbdFor(img), '');
  child.kill('SIGKILL');
  for (let i = 0; i < 100 && qemuNbdFor(img) !== ''; i++) await sleep(20);
  assert.equal(qemuNbdFor(img), '', 'qemu-nbd outlived its parent');
});

test('socket folders a killed run left are removed by the next qemu-nbd start; live and foreign ones stay', async (t) => {
  if (!haveQemu(t)) return;
  const dir = tempDir(t);
  const image = makeImage(path.join(dir, 'd.qcow2'), 'qcow2', '4M', ['write -P 0x01 0 64k']);
  const folders = path.join(dir, 'tmp');
  mkdirSync(folders);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = folders;
  t.after(() => { if (previous === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = previous; });
  const exited = spawn('true');
  await new Promise((r) => exited.once('exit', r));
  const dead = `vmbak-qemu-nbd-${exited.pid}.1-aaaaaa`;
  const live = `vmbak-qemu-nbd-${process.pid}.${readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[19]}-bbbbbb`;
  const unowned = 'vmbak-qemu-nbd-cccccc';
  for (const name of [dead, live, unowned]) mkdirSync(path.join(folders, name));
  writeFileSync(path.join(folders, dead, 'nbd.sock'), '');
  const source = await openImageSource(image);
  const during = readdirSync(folders).sort();
  await source.close();
  assert.ok(!during.includes(dead), 'the dead run\'s folder is gone');
  assert.ok(during.includes(live) && during.includes(unowned), 'a live process\'s folder and one without an owner stay');
  assert.equal(during.length, 3, 'plus the folder of the qemu-nbd just started');
  assert.deepEqual(readdirSync(folders).sort(), [live, unowned].sort(), 'which goes when the source closes');
});
