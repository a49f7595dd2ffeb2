// The NBD server against independent clients (libnbd's nbdinfo and nbdcopy, QEMU's qemu-io),
// our own client for many pipelined reads over several connections, and hand-written bytes
// for what those clients never send (no structured replies, unknown options, writes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { NbdClient, NbdServer, memoryExport, BASE_ALLOCATION, type NbdExport, type NbdRequestFailure } from './index.ts';
import { haveTool, makeTempDir } from './nbd-test-support.ts';
import {
  NBD_OPTS_MAGIC, NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_OPT_GO, NBD_OPT_EXPORT_NAME, NBD_OPT_ABORT,
  NBD_REP_ACK, NBD_REP_INFO, NBD_REP_ERR_UNSUP, NBD_REP_ERR_UNKNOWN, NBD_CMD_READ, NBD_CMD_WRITE, NBD_CMD_DISC,
  NBD_SIMPLE_REPLY_MAGIC, NBD_FLAG_READ_ONLY, encodeOption, encodeGoData, writeRequestHeader, readUInt64,
} from './protocol.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

/** 8 MiB: data at 1 MiB (1 MiB), a 4 KiB island at 5 MiB, random bytes in the last MiB; zeros elsewhere. */
function sampleDisk(): Buffer {
  const data = Buffer.alloc(8 * MiB);
  data.fill(0xab, 1 * MiB, 2 * MiB);
  data.fill(0x11, 5 * MiB, 5 * MiB + 4096);
  randomBytes(MiB).copy(data, 7 * MiB);
  return data;
}

async function startServer(t: { after(fn: () => Promise<void> | void): void }, exports: NbdExport[], onFailure?: (f: NbdRequestFailure) => void) {
  const dir = makeTempDir(t);
  const server = new NbdServer({ exports, onFailure });
  const socket = path.join(dir, 'nbd.sock');
  await server.listen({ path: socket });
  t.after(() => server.close());
  return { server, socket, dir, uri: (name: string) => `nbd+unix:///${name}?socket=${socket}` };
}

test('nbdinfo sees the size, the list of exports and the holes; the empty name is the first export', async (t) => {
  if (!haveTool(t, 'nbdinfo')) return;
  const { uri } = await startServer(t, [memoryExport('vda', sampleDisk()), memoryExport('vdb', Buffer.alloc(MiB, 7))]);
  assert.equal((await run('nbdinfo', ['--size', uri('vda')])).stdout.trim(), String(8 * MiB));
  assert.equal((await run('nbdinfo', ['--size', uri('')])).stdout.trim(), String(8 * MiB));
  assert.equal((await run('nbdinfo', ['--size', uri('vdb')])).stdout.trim(), String(MiB));
  const list = (await run('nbdinfo', ['--list', '--json', uri('')])).stdout;
  assert.deepEqual((JSON.parse(list) as { exports: { 'export-name': string }[] }).exports.map((e) => e['export-name']), ['vda', 'vdb']);
  const info = JSON.parse((await run('nbdinfo', ['--json', uri('vda')])).stdout) as { exports: { is_read_only: boolean; can_multi_conn: boolean; contexts: string[] }[] };
  assert.equal(info.exports[0]!.is_read_only, true);
  assert.equal(info.exports[0]!.can_multi_conn, true);
  assert.deepEqual(info.exports[0]!.contexts, [BASE_ALLOCATION]);
  const map = (await run('nbdinfo', ['--map', '--json', uri('vda')])).stdout;
  const extents = (JSON.parse(map) as { offset: number; length: number; type: number }[]).map((e) => [e.offset, e.length, e.type]);
  assert.deepEqual(extents, [
    [0, MiB, 3], [MiB, MiB, 0], [2 * MiB, 3 * MiB, 3], [5 * MiB, 4096, 0], [5 * MiB + 4096, 2 * MiB - 4096, 3], [7 * MiB, MiB, 0],
  ]);
  await assert.rejects(run('nbdinfo', ['--size', uri('nope')]), /nope|export/i);
});

test('nbdcopy and qemu-io read exactly the export, also with several connections', async (t) => {
  if (!haveTool(t, 'nbdcopy') || !haveTool(t, 'qemu-io')) return;
  const data = sampleDisk();
  const { uri, dir } = await startServer(t, [memoryExport('vda', data)]);
  const out = path.join(dir, 'copy.raw');
  await run('nbdcopy', ['--connections=4', '--requests=16', uri('vda'), out]);
  assert.ok(readFileSync(out).equals(data));
  const io = await run('qemu-io', ['-r', '-f', 'raw', uri('vda'), '-c', 'read -P 0xab 1M 1M', '-c', 'read -P 0 0 1M', '-c', 'read -P 0x11 5M 4k', '-c', 'read -P 0 5244k 1M']);
  assert.doesNotMatch(io.stdout + io.stderr, /fail|error|mismatch/i);
});

test('our client: pipelined random reads over three connections match, and block status agrees', async (t) => {
  const data = sampleDisk();
  const { socket } = await startServer(t, [memoryExport('vda', data)]);
  const clients = await Promise.all([0, 1, 2].map(() => NbdClient.connectUnix(socket, { exportName: 'vda', metaContexts: [BASE_ALLOCATION] })));
  t.after(() => Promise.all(clients.map((c) => c.close())));
  const reads = Array.from({ length: 300 }, (_, i) => {
    const offset = Math.floor(Math.random() * (data.length - 70_000));
    const length = 1 + Math.floor(Math.random() * 70_000);
    return clients[i % 3]!.read(offset, length).then((got) => assert.ok(got.equals(data.subarray(offset, offset + length)), `read ${length} at ${offset}`));
  });
  await Promise.all(reads);
  const status = await clients[0]!.blockStatus(BASE_ALLOCATION, MiB - 512, 4096);
  assert.deepEqual(status.map((e) => [e.offsetBytes, e.lengthBytes, e.flags]), [[MiB - 512, 512, 3], [MiB, 3584, 0]]);
});

test('a failing read answers EIO for that read only and is reported; other reads go on', async (t) => {
  if (!haveTool(t, 'qemu-io')) return;
  const data = sampleDisk();
  const base = memoryExport('vda', data);
  const broken: NbdExport = {
    ...base,
    read: async (offset, length) => {
      if (offset < 7 * MiB + 8192 && offset + length > 7 * MiB) throw new Error('chunk at 7 MiB is damaged');
      return base.read(offset, length);
    },
  };
  const failures: NbdRequestFailure[] = [];
  const { uri, socket } = await startServer(t, [broken], (f) => failures.push(f));
  const bad = await run('qemu-io', ['-r', '-f', 'raw', uri('vda'), '-c', 'read 7M 64k']).then((r) => r.stdout + r.stderr, (e: { stdout: string; stderr: string }) => e.stdout + e.stderr);
  assert.match(bad, /Input\/output error/);
  assert.equal(failures.length, 1);
  assert.equal(failures[0]!.offsetBytes, 7 * MiB);
  assert.match(String(failures[0]!.error), /damaged/);

  const client = await NbdClient.connectUnix(socket, { exportName: 'vda' });
  t.after(() => client.close());
  const [good, failed, alsoGood] = await Promise.allSettled([client.read(MiB, MiB), client.read(7 * MiB - 4096, 8192), client.read(7 * MiB + 8192, 4096)]);
  assert.equal(good.status, 'fulfilled');
  assert.ok(failed.status === 'rejected' && /EIO.*damaged/.test(String(failed.reason)), String((failed as PromiseRejectedResult).reason));
  assert.equal(alsoGood.status, 'fulfilled');
});

/** A bare-bytes client for what real clients never do. */
async function rawConnect(socketPath: string) {
  const sock = net.connect({ path: socketPath });
  let buffered = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  sock.on('data', (d: Buffer) => { buffered = Buffer.concat([buffered, d]); waiting?.(); });
  await new Promise((r) => sock.once('connect', r));
  const read = async (n: number): Promise<Buffer> => {
    while (buffered.length < n) await new Promise<void>((r) => { waiting = r; });
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
  const optionReply = async () => {
    const h = await read(20);
    return { option: h.readUInt32BE(8), type: h.readUInt32BE(12), data: await read(h.readUInt32BE(16)) };
  };
  const greeting = await read(18);
  assert.equal(greeting.readBigUInt64BE(8), NBD_OPTS_MAGIC);
  return { sock, read, optionReply };
}

test('without structured replies reads get simple replies; unknown options UNSUP; writes EPERM; EXPORT_NAME and ABORT work', async (t) => {
  const data = sampleDisk();
  const { socket } = await startServer(t, [memoryExport('vda', data)]);

  const c = await rawConnect(socket);
  c.sock.write(Buffer.from([0, 0, 0, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES]));
  c.sock.write(encodeOption(4242, Buffer.from('x')));
  const unknown = await c.optionReply();
  assert.deepEqual([unknown.option, unknown.type], [4242, NBD_REP_ERR_UNSUP]);
  c.sock.write(encodeOption(NBD_OPT_GO, encodeGoData('missing', [])));
  assert.equal((await c.optionReply()).type, NBD_REP_ERR_UNKNOWN);
  c.sock.write(encodeOption(NBD_OPT_GO, encodeGoData('vda', [])));
  const info = await c.optionReply();
  assert.equal(info.type, NBD_REP_INFO);
  assert.equal(readUInt64(info.data, 2), data.length);
  assert.ok(info.data.readUInt16BE(10) & NBD_FLAG_READ_ONLY);
  assert.equal((await c.optionReply()).type, NBD_REP_ACK);
  const req = Buffer.alloc(28 * 2 + 4);
  writeRequestHeader(req, 0, NBD_CMD_READ, 0, 7, MiB - 2, 4);
  writeRequestHeader(req, 28, NBD_CMD_WRITE, 0, 8, 0, 4);
  c.sock.write(req);
  const readReply = await c.read(16);
  assert.equal(readReply.readUInt32BE(0), NBD_SIMPLE_REPLY_MAGIC);
  assert.deepEqual([readReply.readUInt32BE(4), readUInt64(readReply, 8)], [0, 7]);
  assert.deepEqual([...(await c.read(4))], [0, 0, 0xab, 0xab]);
  const writeReply = await c.read(16);
  assert.deepEqual([writeReply.readUInt32BE(4), readUInt64(writeReply, 8)], [1 /* EPERM */, 8]);
  const outside = Buffer.alloc(28);
  writeRequestHeader(outside, 0, NBD_CMD_READ, 0, 9, data.length - 1, 2);
  c.sock.write(outside);
  assert.equal((await c.read(16)).readUInt32BE(4), 22 /* EINVAL */);
  const disc = Buffer.alloc(28);
  writeRequestHeader(disc, 0, NBD_CMD_DISC, 0, 10, 0, 0);
  c.sock.write(disc);
  await new Promise((r) => c.sock.once('close', r));

  const old = await rawConnect(socket);
  old.sock.write(Buffer.from([0, 0, 0, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES]));
  old.sock.write(encodeOption(NBD_OPT_EXPORT_NAME, Buffer.from('')));
  const reply = await old.read(10);
  assert.equal(readUInt64(reply, 0), data.length);
  old.sock.destroy();

  const quitter = await rawConnect(socket);
  quitter.sock.write(Buffer.from([0, 0, 0, NBD_FLAG_C_FIXED_NEWSTYLE]));
  quitter.sock.write(encodeOption(NBD_OPT_ABORT));
  assert.equal((await quitter.optionReply()).type, NBD_REP_ACK);
  await new Promise((r) => quitter.sock.once('close', r));
});

test('with a certificate TLS is required: nbdinfo and nbdcopy over nbds:// read the export, plain nbd:// is refused', async (t) => {
  if (!haveTool(t, 'nbdcopy') || !haveTool(t, 'openssl')) return;
  const dir = makeTempDir(t);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'ca-cert.pem'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost']);
  const data = sampleDisk();
  const server = new NbdServer({ exports: [memoryExport('vda', data)], tls: { cert: readFileSync(path.join(dir, 'ca-cert.pem')), key: readFileSync(path.join(dir, 'key.pem')) } });
  const bound = await server.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.close());
  const port = 'port' in bound ? bound.port : 0;
  const info = (await run('nbdinfo', [`nbds://localhost:${port}/vda?tls-certificates=${dir}`])).stdout;
  assert.match(info, /with TLS/);
  const out = path.join(dir, 'copy.raw');
  await run('nbdcopy', [`nbds://localhost:${port}/vda?tls-certificates=${dir}`, out]);
  assert.ok(readFileSync(out).equals(data));
  await assert.rejects(run('nbdinfo', [`nbd://localhost:${port}/vda`]));
});
