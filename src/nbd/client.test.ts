import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isVmbakError } from '../core/index.ts';
import { NbdClient, BASE_ALLOCATION } from './index.ts';
import { haveTool, makeTempDir, makeImage, serveImage } from './nbd-test-support.ts';

const MiB = 1024 * 1024;

test('runs on Node 24', () => {
  assert.ok(Number(process.versions.node.split('.')[0]) >= 24, process.version);
});

test('qcow2: block status and reads match the image', async (t) => {
  if (!haveTool(t, 'qemu-nbd')) return;
  const dir = makeTempDir(t);
  const img = makeImage(path.join(dir, 'a.qcow2'), 'qcow2', '64M', [
    'write -P 0xab 1M 64k', 'write -P 0x11 10M 3M', 'write -P 0x22 63M 1M',
  ]);
  const rawCopy = path.join(dir, 'a.raw');
  execFileSync('qemu-img', ['convert', '-O', 'raw', img, rawCopy]);
  const { socketPath } = await serveImage(t, dir, img, 'qcow2');
  const client = await NbdClient.connectUnix(socketPath, { metaContexts: [BASE_ALLOCATION] });
  t.after(() => client.close());
  assert.equal(client.sizeBytes, 64 * MiB);
  assert.deepEqual([...client.metaContexts.keys()], [BASE_ALLOCATION]);

  const extents = await client.blockStatus(BASE_ALLOCATION, 0, client.sizeBytes);
  const data = extents.filter((e) => (e.flags & 2) === 0).map((e) => [e.offsetBytes, e.lengthBytes]);
  assert.deepEqual(data, [[1 * MiB, 64 * 1024], [10 * MiB, 3 * MiB], [63 * MiB, 1 * MiB]]);
  assert.equal(extents.reduce((sum, e) => sum + e.lengthBytes, 0), client.sizeBytes);

  const expected = readFileSync(rawCopy);
  assert.ok((await client.read(0, client.sizeBytes)).equals(expected));
  const odd = await client.read(1 * MiB - 7, 64 * 1024 + 13);
  assert.ok(odd.equals(expected.subarray(1 * MiB - 7, 1 * MiB + 64 * 1024 + 6)));
});

test('block status of a range inside a hole is one zero extent covering it exactly', async (t) => {
  if (!haveTool(t, 'qemu-nbd')) return;
  const dir = makeTempDir(t);
  const img = makeImage(path.join(dir, 'h.qcow2'), 'qcow2', '32M', ['write -P 0x01 0 1M', 'write -P 0x02 30M 1M']);
  const { socketPath } = await serveImage(t, dir, img, 'qcow2');
  const client = await NbdClient.connectUnix(socketPath, { metaContexts: [BASE_ALLOCATION] });
  t.after(() => client.close());
  const extents = await client.blockStatus(BASE_ALLOCATION, 5 * MiB + 512, 3 * MiB);
  assert.equal(extents.length, 1);
  assert.equal(extents[0]!.offsetBytes, 5 * MiB + 512);
  assert.equal(extents[0]!.lengthBytes, 3 * MiB);
  assert.ok(extents[0]!.flags & 2, 'zero flag');
  assert.ok((await client.read(5 * MiB, MiB)).equals(Buffer.alloc(MiB)));
});

test('256 MiB raw: many pipelined reads and reads above the max block size match the file', async (t) => {
  if (!haveTool(t, 'qemu-nbd')) return;
  const dir = makeTempDir(t);
  const img = path.join(dir, 'big.raw');
  const fd = openSync(img, 'w');
  for (let i = 0; i < 256; i++) writeSync(fd, i % 3 === 0 ? Buffer.alloc(MiB) : randomBytes(MiB));
  closeSync(fd);
  const expected = readFileSync(img);
  const { socketPath } = await serveImage(t, dir, img, 'raw');
  const client = await NbdClient.connectUnix(socketPath);
  t.after(() => client.close());
  assert.equal(client.sizeBytes, 256 * MiB);

  const chunkBytes = 4 * MiB;
  const offsets = Array.from({ length: 64 }, (_, i) => i * chunkBytes).reverse();
  const results = await Promise.all(offsets.map((o) => client.read(o, chunkBytes)));
  results.forEach((buf, i) => assert.ok(buf.equals(expected.subarray(offsets[i]!, offsets[i]! + chunkBytes)), `chunk ${i}`));

  assert.ok(client.maxPayloadBytes < 100 * MiB);
  const bigOffset = 3 * MiB + 4096;
  const big = await client.read(bigOffset, client.maxPayloadBytes * 2 + 12345);
  assert.ok(big.equals(expected.subarray(bigOffset, bigOffset + big.length)));
});

test('block status agrees with nbdinfo --map', async (t) => {
  if (!haveTool(t, 'qemu-nbd') || !haveTool(t, 'nbdinfo')) return;
  const dir = makeTempDir(t);
  const img = makeImage(path.join(dir, 'm.qcow2'), 'qcow2', '48M', [
    'write -P 0x33 0 128k', 'write -z 4M 2M', 'write -P 0x44 20M 5M', 'write -P 0x55 47M 512k',
  ]);
  const { socketPath } = await serveImage(t, dir, img, 'qcow2');
  const client = await NbdClient.connectUnix(socketPath, { metaContexts: [BASE_ALLOCATION] });
  t.after(() => client.close());
  const ours = (await client.blockStatus(BASE_ALLOCATION, 0, client.sizeBytes)).map((e) => [e.offsetBytes, e.lengthBytes, e.flags]);
  const map = JSON.parse(execFileSync('nbdinfo', ['--json', '--map', `nbd+unix:///?socket=${socketPath}`], { encoding: 'utf8' })) as
    { offset: number; length: number; type: number }[];
  const theirs: number[][] = [];
  for (const e of map) {
    const last = theirs[theirs.length - 1];
    if (last && last[2] === e.type) last[1]! += e.length;
    else theirs.push([e.offset, e.length, e.type]);
  }
  assert.deepEqual(ours, theirs);
});

test('errors: missing socket, unknown export, unnegotiated context, server killed mid-read', async (t) => {
  if (!haveTool(t, 'qemu-nbd')) return;
  const dir = makeTempDir(t);
  await assert.rejects(NbdClient.connectUnix(path.join(dir, 'nope.sock')), (err) => isVmbakError(err, 'NBD_CONNECT'));

  const img = makeImage(path.join(dir, 'e.qcow2'), 'qcow2', '512M', ['write -P 0x66 0 256M']);
  const { socketPath, server } = await serveImage(t, dir, img, 'qcow2', ['-x', 'disk0']);
  await assert.rejects(NbdClient.connectUnix(socketPath, { exportName: 'other' }),
    (err) => isVmbakError(err, 'NBD_CONNECT') && /other/.test((err as Error).message));

  const client = await NbdClient.connectUnix(socketPath, { exportName: 'disk0' });
  await assert.rejects(client.blockStatus(BASE_ALLOCATION, 0, 4096), (err) => isVmbakError(err, 'NBD_CONNECT'));
  await assert.rejects(client.read(client.sizeBytes - 10, 20), (err) => isVmbakError(err, 'INTERNAL'));

  const pending = Array.from({ length: 64 }, (_, i) => client.read(i * 4 * MiB, 4 * MiB));
  server.kill('SIGKILL');
  const settled = await Promise.allSettled(pending);
  const failures = settled.filter((s) => s.status === 'rejected');
  assert.ok(failures.length > 0, 'some reads were cut off');
  for (const f of failures) assert.ok(isVmbakError((f as PromiseRejectedResult).reason), String((f as PromiseRejectedResult).reason));
  await assert.rejects(client.read(0, 4096), (err) => isVmbakError(err, 'NBD_PROTOCOL'));
  await client.close();
});

test('TCP connection works too', async (t) => {
  if (!haveTool(t, 'qemu-nbd')) return;
  const dir = makeTempDir(t);
  const img = makeImage(path.join(dir, 'tcp.raw'), 'raw', '4M', ['write -P 0x77 1M 1M']);
  writeFileSync(path.join(dir, 'unused'), '');
  const port = 20000 + Math.floor(Math.random() * 20000);
  const { spawn } = await import('node:child_process');
  const server = spawn('qemu-nbd', ['--read-only', '-f', 'raw', '-b', '127.0.0.1', '-p', String(port), img], { stdio: 'ignore' });
  t.after(() => { server.kill('SIGKILL'); });
  let client: NbdClient | null = null;
  for (let i = 0; i < 200 && !client; i++) {
    client = await NbdClient.connectTcp('127.0.0.1', port).catch(async () => { await new Promise((r) => setTimeout(r, 10)); return null; });
  }
  assert.ok(client);
  assert.ok((await client.read(MiB, MiB)).equals(Buffer.alloc(MiB, 0x77)));
  await client.close();
});

test('block status over more than one request (5 GiB sparse image) covers the range without gaps', async (t) => {
  if (!haveTool(t, 'qemu-nbd')) return;
  const dir = makeTempDir(t);
  const GiB = 1024 * MiB;
  const img = makeImage(path.join(dir, 'wide.qcow2'), 'qcow2', '5G', ['write -P 0x01 0 1M', 'write -P 0x02 2047M 2M', 'write -P 0x03 4607M 1M']);
  const { socketPath } = await serveImage(t, dir, img, 'qcow2');
  const client = await NbdClient.connectUnix(socketPath, { metaContexts: [BASE_ALLOCATION] });
  t.after(() => client.close());
  const extents = await client.blockStatus(BASE_ALLOCATION, 0, client.sizeBytes);
  let at = 0;
  for (const e of extents) { assert.equal(e.offsetBytes, at); at += e.lengthBytes; }
  assert.equal(at, 5 * GiB);
  const data = extents.filter((e) => (e.flags & 2) === 0).map((e) => [e.offsetBytes / MiB, e.lengthBytes / MiB]);
  assert.deepEqual(data, [[0, 1], [2047, 2], [4607, 1]]);
});
