// End to end through the `vmbak` command: a VM with a qcow2 and a raw disk is backed up,
// changed, backed up again, and restored bit-identically; the --json contracts hold.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { vmbak, tempDir, qemuImg, qemuIo, imageDigest, sha256File, jsonLine } from './support/vmbak-cli.ts';

const tmp = tempDir('e2e');
const env = { VMBAK_PASSPHRASE: 'correct horse', VMBAK_REPO: join(tmp.dir, 'repo') };
const sys = join(tmp.dir, 'web01-sys.qcow2');
const data = join(tmp.dir, 'web01-data.raw');
type BackupJson = { backupId: string; vm: string; repo: string; time: string; incremental: boolean; fallbackReason: string | null; consistency: string; bytesRead: number; bytesNew: number; bytesChanged: number | null; durationMs: number; disks: { name: string; sizeBytes: number; bytesRead: number; bytesNew: number }[]; copies: unknown[] };
const digests: Record<string, Record<string, string>> = {};

before(() => {
  qemuImg('create', '-q', '-f', 'qcow2', sys, '64M');
  qemuIo(sys, 'qcow2', 'write -P 0xa1 0 4M', 'write -P 0x5c 20M 3M', 'write -P 0x00 40M 1M');
  qemuImg('create', '-q', '-f', 'raw', data, '32M');
  qemuIo(data, 'raw', 'write -P 0x33 1M 8M', 'write -P 0x44 30M 64k');
});
after(() => tmp.remove());

async function backup(): Promise<BackupJson> {
  const r = await vmbak(['backup', '--image', sys, '--image', data, '--vm', 'web01', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const j = jsonLine<BackupJson>(r);
  digests[j.backupId] = { 'web01-sys': imageDigest(sys, tmp.dir), 'web01-data': imageDigest(data, tmp.dir) };
  return j;
}

test('init, full backup, unchanged and changed incrementals, restores', async () => {
  const init = await vmbak(['repo', 'init'], env);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /key export/);

  const first = await backup();
  // docs/cli.md is the contract: the documented fields and the real ones are the same set.
  const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('<!-- backup-json-fields -->'), doc.indexOf('<!-- /backup-json-fields -->'));
  const documented = [...section.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!).sort();
  assert.deepEqual(Object.keys(first).sort(), documented);
  assert.match(first.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.equal(first.vm, 'web01');
  assert.deepEqual(first.disks.map((d) => d.name).sort(), ['web01-data', 'web01-sys']);
  // Holes are not read: 4M+3M+1M allocated in the qcow2, 8M+64k written in the raw.
  assert.ok(first.bytesRead <= 17 * 1024 * 1024, `read ${first.bytesRead}`);

  const unchanged = await backup();
  assert.equal(unchanged.bytesNew, 0, 'an unchanged disk stores nothing new');
  assert.equal(unchanged.bytesChanged, 0);

  qemuIo(sys, 'qcow2', 'write -P 0x77 2M 64k');
  qemuIo(data, 'raw', 'write -P 0x78 5M 4k');
  const changed = await backup();
  assert.ok(changed.bytesNew <= 2 * 64 * 1024, `new ${changed.bytesNew}`);
  assert.equal(changed.bytesChanged, 2 * 64 * 1024);

  const ls = await vmbak(['backups', 'ls', '--json'], env);
  assert.equal(ls.code, 0, ls.stderr);
  const listed = JSON.parse(ls.stdout) as { backupId: string; vm: string; time: string; consistency: string; disks: { name: string; sizeBytes: number }[] }[];
  assert.deepEqual(listed.map((b) => b.backupId), [first.backupId, unchanged.backupId, changed.backupId]);
  assert.deepEqual(listed[0]!.disks.find((d) => d.name === 'web01-sys'), { name: 'web01-sys', sizeBytes: 64 * 1024 * 1024 });

  // Every backup restores to exactly the content it was taken from.
  for (const [ref, id] of [[first.backupId.slice(0, 6), first.backupId], ['latest', changed.backupId], ['web01@latest', changed.backupId]] as const) {
    const out = join(tmp.dir, `out-${ref.replace('@', '_')}`);
    const r = await vmbak(['restore', ref, '--to', out, '--verify'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256File(join(out, 'web01-sys.raw')), digests[id]!['web01-sys']);
    assert.equal(sha256File(join(out, 'web01-data.raw')), digests[id]!['web01-data']);
    // Sparse output: holes stay holes.
    assert.ok(statSync(join(out, 'web01-sys.raw')).blocks * 512 < 16 * 1024 * 1024);
  }

  const q = join(tmp.dir, 'out-qcow2');
  const r = await vmbak(['restore', unchanged.backupId, '--to', q, '--disk', 'web01-sys', '--format', 'qcow2'], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(imageDigest(join(q, 'web01-sys.qcow2'), tmp.dir), digests[unchanged.backupId]!['web01-sys']);
  assert.equal(existsSync(join(q, 'web01-data.qcow2')), false);
});

test('a domain XML backs up its disks under their targets and is stored with the backup', async () => {
  const xml = `<domain type='qemu'><name>tmpl</name><uuid>6f1c8d3e-3b1a-4f0e-9a55-0b6a2d1c9e01</uuid><memory>65536</memory>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${sys}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${data}'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>
  </devices></domain>`;
  const xmlPath = join(tmp.dir, 'tmpl.xml');
  writeFileSync(xmlPath, xml);
  const b = await vmbak(['backup', '--domain-xml', xmlPath, '--json'], env);
  assert.equal(b.code, 0, b.stderr);
  const j = jsonLine<BackupJson>(b);
  assert.equal(j.vm, 'tmpl');
  assert.deepEqual(j.disks.map((d) => d.name), ['vda', 'vdb']);
  assert.equal(j.bytesNew, 0, 'the template shares every chunk with web01');
  const out = join(tmp.dir, 'out-tmpl');
  const r = await vmbak(['restore', 'tmpl@latest', '--to', out], env);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(out, 'domain.xml'), 'utf8'), xml);
  assert.equal(sha256File(join(out, 'vda.raw')), imageDigest(sys, tmp.dir));
});

test('key passwd changes the passphrase; key export opens the repository without one', async () => {
  const exported = await vmbak(['key', 'export'], env);
  assert.equal(exported.code, 0, exported.stderr);
  const keyFile = join(tmp.dir, 'master.key');
  writeFileSync(keyFile, exported.stdout);
  const pw = await vmbak(['key', 'passwd'], { ...env, VMBAK_NEW_PASSPHRASE: 'battery staple' });
  assert.equal(pw.code, 0, pw.stderr);
  const old = await vmbak(['backups', 'ls'], env);
  assert.equal(old.code, 1);
  assert.match(old.stderr, /^vmbak: wrong passphrase/);
  const fresh = await vmbak(['backups', 'ls'], { ...env, VMBAK_PASSPHRASE: 'battery staple' });
  assert.equal(fresh.code, 0, fresh.stderr);
  const byKey = await vmbak(['verify', '--key-file', keyFile], { ...env, VMBAK_PASSPHRASE: '' });
  assert.equal(byKey.code, 0, byKey.stderr);
  assert.match(byKey.stdout, /no problems/);
});

test('an unencrypted repository only when asked, with the same behaviour', async () => {
  const plainEnv = { VMBAK_REPO: join(tmp.dir, 'plain') };
  const init = await vmbak(['repo', 'init', '--no-encryption'], plainEnv);
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /NOT encrypted/);
  const b = await vmbak(['backup', '--image', data, '--json'], plainEnv);
  assert.equal(b.code, 0, b.stderr);
  const out = join(tmp.dir, 'out-plain');
  const r = await vmbak(['restore', 'latest', '--to', out, '--verify'], plainEnv);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(sha256File(join(out, 'web01-data.raw')), imageDigest(data, tmp.dir));
});

test('gc repacks a pack most of whose chunks no backup needs any more, and every backup still restores', async () => {
  const e = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo-repack') };
  const img = join(tmp.dir, 'repack.raw');
  const ok = async (args: string[]) => {
    const r = await vmbak(args, e);
    assert.equal(r.code, 0, r.stderr);
    return r;
  };
  // 64 KiB chunks of distinct text, so that none dedups against another.
  const chunks = (from: number, count: number) => {
    const buf = Buffer.alloc(count * 65536);
    for (let i = 0; i < count; i++) buf.fill(`chunk ${from + i} of the run `, i * 65536, (i + 1) * 65536);
    return buf;
  };
  await ok(['repo', 'init', '--pack-size', '4M', '--no-encryption']);
  writeFileSync(img, Buffer.concat([chunks(0, 16), chunks(100, 48), Buffer.alloc(4 << 20)]));
  const kept = jsonLine<{ backupId: string }>(await ok(['backup', '--image', img, '--vm', 'repack', '--no-progress', '--json'])).backupId;
  writeFileSync(img, Buffer.concat([chunks(0, 16), chunks(500, 48), Buffer.alloc(4 << 20)]));
  const latest = jsonLine<{ backupId: string }>(await ok(['backup', '--image', img, '--vm', 'repack', '--no-progress', '--json'])).backupId;
  const latestDigest = sha256File(img);
  // With the first backup pruned, its pack holds 16 chunks still needed and 48 dead ones.
  await ok(['prune', '--keep-last', '1']);
  const gc = JSON.parse((await ok(['gc', '--json'])).stdout) as { packsRepacked: number; bytesFreed: number };
  assert.ok(gc.packsRepacked >= 1 && gc.bytesFreed > 0, `a pack was repacked: ${JSON.stringify(gc)}`);
  const out = join(tmp.dir, 'repack-out');
  await ok(['restore', latest, '--to', out, '--verify', '--no-progress']);
  assert.equal(sha256File(join(out, 'repack.raw')), latestDigest);
  assert.equal((await vmbak(['restore', kept, '--to', join(tmp.dir, 'gone'), '--no-progress'], e)).code, 1, 'the pruned backup is gone');
  await ok(['check']);
  await ok(['verify', '--no-progress']);
});
