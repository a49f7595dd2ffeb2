// The file browser and file search through `vmbak serve`'s REST API, over a real socket and a
// real appliance: a backup of a GPT + ext4 image is indexed with `vmbak index`, the catalog
// (rebuilt from the repository) finds its files, a directory is browsed — the second request
// reuses the session's appliance — and a file, a folder as tar and as zip are downloaded
// byte-identical; a viewer may browse but not download. Then the catalog is deleted and
// rebuilt, and search answers the same from the index objects alone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnVmbak, tempDir, vmbak, jsonLine } from './support/vmbak-cli.ts';
import { findFreePort } from './support/free-port.ts';
import { buildDisk, buildExt4 } from './support/guest-images.ts';

const tmp = tempDir('file-api');
const dataDir = join(tmp.dir, 'data');
const repo = join(tmp.dir, 'repo');
const configFile = join(tmp.dir, 'vmbak.yaml');
const env = { VMBAK_PASSPHRASE: 'api pass', VMBAK_REPO: repo };
const invoice = randomBytes(300_000);
const MTIME_S = 1_795_000_000;
const children = new Set<ChildProcess>();
let base = '';
let backupId = '';
const tokens: Record<'viewer' | 'operator', string> = { viewer: '', operator: '' };

before(async () => {
  const src = join(tmp.dir, 'src');
  mkdirSync(join(src, 'docs', 'old'), { recursive: true });
  writeFileSync(join(src, 'docs', 'invoice-2026-11.pdf'), invoice);
  utimesSync(join(src, 'docs', 'invoice-2026-11.pdf'), MTIME_S, MTIME_S);
  writeFileSync(join(src, 'docs', 'old', 'note.txt'), 'old note\n');
  buildExt4(join(tmp.dir, 'p1.part'), src, 16);
  buildDisk(join(tmp.dir, 'web.img'), 18, 'gpt', [{ file: join(tmp.dir, 'p1.part'), sizeMiB: 16 }]);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  const b = await vmbak(['backup', '--image', join(tmp.dir, 'web.img'), '--vm', 'web', '--no-progress', '--json'], env);
  assert.equal(b.code, 0, b.stderr);
  backupId = jsonLine<{ backupId: string }>(b).backupId;
  const ix = await vmbak(['index', backupId], env);
  assert.equal(ix.code, 0, ix.stderr);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'api pass\n');
  writeFileSync(configFile, `repositories:\n  - { name: local, url: ${repo}, passphraseFile: repo.pass }\npolicies: []\n`);
  base = `http://127.0.0.1:${await findFreePort()}`;
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp.remove();
});

async function serve(): Promise<ChildProcess> {
  for (const role of ['viewer', 'operator'] as const) {
    const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', role, '--name', `${role}${Date.now()}`]);
    assert.equal(made.code, 0, made.stderr);
    tokens[role] = made.stdout.trim().split('\n').at(-1)!;
  }
  const child = spawnVmbak(['serve', '--data-dir', dataDir, '--config', configFile, '--listen', base.replace('http://', ''), '--no-local-agent', '--rebuild-catalog']);
  children.add(child);
  let out = '';
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  child.once('close', () => children.delete(child));
  const deadline = Date.now() + 60_000;
  while ((await fetch(`${base}/api/v1/health`).catch(() => null))?.status !== 200) {
    assert.ok(Date.now() < deadline, `serve did not come up: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return child;
}

async function get(path: string, role: 'viewer' | 'operator' = 'viewer'): Promise<Response> {
  return fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${tokens[role]}` } });
}

async function json<T>(path: string): Promise<T> {
  const res = await get(path);
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

interface Found { files: { vm: string; fs: string; path: string; versions: { sizeBytes: number; mtime: string; sha256: string | null; backups: { repository: string; backupId: string }[] }[] }[] }

test('find, browse (one appliance per session), download a file, a folder as tar and zip; viewers may not download', { timeout: 600_000 }, async () => {
  const server = await serve();
  const found = await json<Found>('/files/find?name=INVOICE-2026-11.pdf&vm=web');
  const expected = [{ vm: 'web', fs: 'web/p1', path: '/docs/invoice-2026-11.pdf', versions: [{ sizeBytes: invoice.length, mtime: new Date(MTIME_S * 1000).toISOString(), sha256: createHash('sha256').update(invoice).digest('hex'), backups: [{ repository: 'local', backupId }] }] }];
  assert.deepEqual(found.files.map((f) => ({ ...f, versions: f.versions.map((v) => ({ ...v, backups: v.backups.map((b) => ({ repository: b.repository, backupId: b.backupId })) })) })).map(({ vm, fs, path, versions }) => ({ vm, fs, path, versions })), expected);
  assert.deepEqual((await json<Found>('/files/find?name=invoice-2026-11.pdf&since=2100-01-01')).files, []);

  const t0 = Date.now();
  const fss = await json<{ filesystems: { id: string; type: string }[] }>(`/backups/local/${backupId}/files`);
  const firstMs = Date.now() - t0;
  assert.deepEqual(fss.filesystems, [{ id: 'web/p1', type: 'ext4' }]);
  const t1 = Date.now();
  const dir = await json<{ entries: { name: string; type: string; sizeBytes: number }[] }>(`/backups/local/${backupId}/files?path=${encodeURIComponent('web/p1:/docs')}`);
  const secondMs = Date.now() - t1;
  process.stderr.write(`# first browse ${firstMs} ms (appliance start), second ${secondMs} ms (same session)\n`);
  assert.deepEqual(dir.entries.map((e) => [e.name, e.type]), [['invoice-2026-11.pdf', 'file'], ['old', 'dir']]);
  assert.ok(secondMs < firstMs / 3, `the second request reused the appliance: ${secondMs} ms vs ${firstMs} ms`);

  const filePath = `/backups/local/${backupId}/files/download?path=${encodeURIComponent('web/p1:/docs/invoice-2026-11.pdf')}`;
  assert.equal((await get(filePath, 'viewer')).status, 403);
  const file = await get(filePath, 'operator');
  assert.equal(file.status, 200, await file.clone().text());
  assert.match(file.headers.get('content-disposition') ?? '', /filename="invoice-2026-11\.pdf"/);
  assert.deepEqual(Buffer.from(await file.arrayBuffer()), invoice);

  for (const format of ['tar', 'zip'] as const) {
    const res = await get(`/backups/local/${backupId}/files/download?path=${encodeURIComponent('web/p1:/docs')}&format=${format}`, 'operator');
    assert.equal(res.status, 200, await res.clone().text());
    const archive = join(tmp.dir, `docs.${format}`);
    writeFileSync(archive, Buffer.from(await res.arrayBuffer()));
    const out = join(tmp.dir, `out-${format}`);
    mkdirSync(out);
    execFileSync(format === 'tar' ? 'tar' : 'unzip', format === 'tar' ? ['-xf', archive, '-C', out] : ['-q', archive, '-d', out]);
    assert.deepEqual(readFileSync(join(out, 'docs', 'invoice-2026-11.pdf')), invoice);
    assert.equal(readFileSync(join(out, 'docs', 'old', 'note.txt'), 'utf8'), 'old note\n');
  }
  server.kill('SIGTERM');
  await new Promise((r) => server.once('close', r));

  // The catalog is a cache: gone, rebuilt from the repository, search answers the same.
  for (const f of ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm']) rmSync(join(dataDir, f), { force: true });
  const again = await serve();
  const refound = await json<Found>('/files/find?name=invoice-2026-11.pdf');
  assert.deepEqual(refound.files.map((f) => [f.fs, f.path, f.versions.map((v) => [v.sizeBytes, v.sha256, v.backups.map((b) => b.backupId)])]), [['web/p1', '/docs/invoice-2026-11.pdf', [[invoice.length, expected[0]!.versions[0]!.sha256, [backupId]]]]]);
  again.kill('SIGTERM');
});
