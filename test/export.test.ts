// End to end through the `vmbak export` command: a backup's disks served over NBD straight
// from the repository, read by libnbd's nbdinfo/nbdcopy and QEMU's qemu-img/qemu-io, equal
// to what `vmbak restore` writes and to the original images; a damaged chunk fails only the
// reads that need it (EIO), and the export holds an operation lock while it serves.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, openSync, readFileSync, readSync, writeSync, closeSync, writeFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { NbdClient } from '../src/nbd/index.ts';
import { vmbak, spawnVmbak, tempDir, qemuImg, qemuIo, jsonLine, isCleanError, lockHeldBy, repoFiles, waitUntil } from './support/vmbak-cli.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const tmp = tempDir('export');
const env = { VMBAK_PASSPHRASE: 'correct horse', VMBAK_REPO: join(tmp.dir, 'repo') };
const sys = join(tmp.dir, 'sys.qcow2');
const data = join(tmp.dir, 'data.raw');
type ExportJson = { backupId: string; vm: string; socket: string | null; host: string | null; port: number | null; tls: boolean; exports: { name: string; sizeBytes: number; uri: string }[] };

before(async () => {
  qemuImg('create', '-q', '-f', 'qcow2', sys, '64M');
  qemuIo(sys, 'qcow2', 'write -P 0xa1 0 4M', 'write -P 0x5c 20M 3M', 'write -P 0x00 40M 1M');
  const raw = Buffer.alloc(32 * MiB);
  randomBytes(6 * MiB).copy(raw, 4 * MiB);
  randomBytes(100_000).copy(raw, 31 * MiB);
  writeFileSync(data, raw);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  const b = await vmbak(['backup', '--image', sys, '--image', data, '--vm', 'web01'], env);
  assert.equal(b.code, 0, b.stderr);
});
after(() => tmp.remove());

interface Serving { readonly child: ChildProcess; readonly info: ExportJson; stderr(): string; stop(): Promise<{ code: number | null; stdout: string }> }

async function startExport(args: string[]): Promise<Serving> {
  const child = spawnVmbak(['export', ...args, '--json'], env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  const exited = { done: false };
  void closed.then(() => { exited.done = true; });
  await waitUntil('the export to serve', () => stdout.includes('\n') || exited.done, 30_000);
  if (!stdout.includes('\n')) throw new Error(`export did not start: ${stderr}`);
  const info = JSON.parse(stdout.split('\n')[0]!) as ExportJson;
  return {
    child, info, stderr: () => stderr,
    stop: async () => { child.kill('SIGINT'); return { code: await closed, stdout }; },
  };
}

test('the export reads like the restore and like the original images; nbdinfo sees sizes, list and holes; lock held while serving', async (t) => {
  const serving = await startExport(['web01@latest', '--socket', join(tmp.dir, 'nbd.sock')]);
  t.after(() => { serving.child.kill('SIGKILL'); });
  const { info } = serving;
  // docs/cli.md is the contract: the documented fields and the real ones are the same set.
  const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('<!-- export-json-fields -->'), doc.indexOf('<!-- /export-json-fields -->'));
  assert.deepEqual(Object.keys(info).sort(), [...section.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!).sort());
  assert.equal(info.vm, 'web01');
  assert.deepEqual(info.exports.map((e) => [e.name, e.sizeBytes]), [['sys', 64 * MiB], ['data', 32 * MiB]]);
  const uri = (name: string) => `nbd+unix:///${name}?socket=${info.socket}`;
  assert.equal(info.exports[1]!.uri, uri('data'));
  await lockHeldBy(env.VMBAK_REPO, serving.child.pid!);

  assert.equal((await run('nbdinfo', ['--size', uri('')])).stdout.trim(), String(64 * MiB));
  const list = JSON.parse((await run('nbdinfo', ['--list', '--json', uri('')])).stdout) as { exports: { 'export-name': string; 'export-size': number }[] };
  assert.deepEqual(list.exports.map((e) => [e['export-name'], e['export-size']]), [['sys', 64 * MiB], ['data', 32 * MiB]]);
  const map = JSON.parse((await run('nbdinfo', ['--map', '--json', uri('sys')])).stdout) as { offset: number; length: number; type: number }[];
  // Data where the image was written (the zero-written 1 MiB at 40M is a hole: zero chunks are not stored).
  assert.deepEqual(map.map((e) => [e.offset / MiB, e.length / MiB, e.type]), [[0, 4, 0], [4, 16, 3], [20, 3, 0], [23, 41, 3]]);

  const restored = join(tmp.dir, 'restored');
  const r = await vmbak(['restore', info.backupId, '--to', restored], env);
  assert.equal(r.code, 0, r.stderr);
  for (const name of ['sys', 'data']) {
    const copy = join(tmp.dir, `nbdcopy-${name}.raw`);
    await run('nbdcopy', ['--connections=2', uri(name), copy]);
    assert.ok(readFileSync(copy).equals(readFileSync(join(restored, `${name}.raw`))), `nbdcopy of ${name} differs from its restore`);
  }
  await run('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', sys, uri('sys')]);
  await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', data, uri('data')]);

  const { code, stdout } = await serving.stop();
  assert.equal(code, 0);
  assert.equal(stdout.trim().split('\n').length, 1, 'with --json only the one line');
  assert.ok(!existsSync(info.socket!), 'the socket is removed');
  assert.deepEqual(opLocks(), [], 'the lock is released');
});

test('TCP with --disk: only that disk, also as the default export', async (t) => {
  const serving = await startExport(['latest', '--disk', 'data', '--listen', '127.0.0.1:0', '--cache-mib', '4']);
  t.after(() => { serving.child.kill('SIGKILL'); });
  assert.equal(serving.info.host, '127.0.0.1');
  assert.ok(serving.info.port! > 0);
  assert.deepEqual(serving.info.exports.map((e) => e.name), ['data']);
  await run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', data, `nbd://127.0.0.1:${serving.info.port}`]);
  assert.equal((await serving.stop()).code, 0);
});

test('usage errors are one clean line', async () => {
  const both = await vmbak(['export', 'latest', '--socket', join(tmp.dir, 'x.sock'), '--listen', '127.0.0.1:1'], env);
  assert.ok(isCleanError(both) && both.code === 2, both.stderr);
  const noDisk = await vmbak(['export', 'latest', '--disk', 'vdz', '--socket', join(tmp.dir, 'x.sock')], env);
  assert.ok(isCleanError(noDisk), noDisk.stderr);
  assert.match(noDisk.stderr, /has no disk vdz \(it has: sys, data\)/);
});

test('a damaged chunk fails the reads that need it with EIO, names backup, disk and offset, and other reads work', async (t) => {
  // A disk of unique random data, so its chunks go into a pack of their own.
  const lone = join(tmp.dir, 'lone.raw');
  const content = randomBytes(2 * MiB);
  writeFileSync(lone, content);
  const packsBefore = new Set(repoFiles(env.VMBAK_REPO, 'packs'));
  const b = await vmbak(['backup', '--image', lone, '--vm', 'lone', '--json'], env);
  assert.equal(b.code, 0, b.stderr);
  const backupId = jsonLine<{ backupId: string }>(b).backupId;
  const newPacks = repoFiles(env.VMBAK_REPO, 'packs').filter((p) => !packsBefore.has(p));
  assert.equal(newPacks.length, 1);
  flipByte(newPacks[0]!, 10); // inside the pack's first blob

  const serving = await startExport([backupId, '--socket', join(tmp.dir, 'damaged.sock')]);
  t.after(() => { serving.child.kill('SIGKILL'); });
  const uri = `nbd+unix:///lone?socket=${serving.info.socket}`;
  await assert.rejects(run('nbdcopy', [uri, join(tmp.dir, 'damaged.raw')]));
  const logged = await waitUntil('the damaged chunk in the log', () => /disk lone at offset (\d+) is damaged/.exec(serving.stderr()));
  assert.match(serving.stderr(), new RegExp(`export of ${backupId}: read .* of disk lone failed \\(EIO to the client\\): chunk \\w+ of backup ${backupId}, disk lone at offset \\d+ is damaged`));
  const badOffset = Number(logged[1]);

  const io = await run('qemu-io', ['-r', '-f', 'raw', uri, '-c', `read ${badOffset + 4096} 4k`]).then((r) => r.stdout + r.stderr, (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
  assert.match(io, /Input\/output error/);
  const client = await NbdClient.connectUnix(serving.info.socket!, { exportName: 'lone' });
  t.after(() => client.close());
  const goodOffset = badOffset === 0 ? MiB : 0;
  assert.ok((await client.read(goodOffset, MiB)).equals(content.subarray(goodOffset, goodOffset + MiB)));
  await assert.rejects(client.read(badOffset, 64 * 1024), /EIO/);
  assert.equal((await serving.stop()).code, 0);
});

/** Operation locks (op-…) in the repository; released backup locks (vm-…) stay by design. */
function opLocks(): string[] {
  return repoFiles(env.VMBAK_REPO, 'locks').filter((f) => f.includes('/op-'));
}

function flipByte(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

test('a lost lease stops the export: exit non-zero with the lease error, socket removed', async () => {
  const child = spawnVmbak(['export', 'latest', '--socket', join(tmp.dir, 'lease.sock')], { ...env, VMBAK_LOCK_STALE_MS: '2000' });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  await waitUntil('the export to serve', () => stdout.includes('serving'));
  // What a gc does to a lock it judges dead: remove it. The owner's next refresh finds out.
  await lockHeldBy(env.VMBAK_REPO, child.pid!);
  for (const f of opLocks()) rmSync(f, { force: true });
  const code = await closed;
  assert.notEqual(code, 0);
  assert.ok(isCleanError({ code, signal: null, stdout, stderr }), stderr);
  assert.match(stderr, /lost the lock on export/);
  assert.ok(!existsSync(join(tmp.dir, 'lease.sock')));
});
