// An `index` job through `vmbak serve`'s REST API with its local agent: POST
// /backups/{repository}/{backupId}/index is the operator's (a viewer gets 403), answers 202 with
// the job, and the job runs the indexer (one real appliance) — the index lands in the
// repository (`vmbak files find` reads it there) and in the catalog's cache (`/files/find`).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnVmbak, tempDir, vmbak, jsonLine } from './support/vmbak-cli.ts';
import { findFreePort } from './support/free-port.ts';
import { buildDisk, buildExt4 } from './support/guest-images.ts';
import { ensureLibvirt, TEST_URI } from './support/libvirt.ts';

const tmp = tempDir('index-job');
const dataDir = join(tmp.dir, 'data');
const repo = join(tmp.dir, 'repo');
const env = { VMBAK_PASSPHRASE: 'job pass', VMBAK_REPO: repo };
const children = new Set<ChildProcess>();
let base = '';
let backupId = '';
const tokens: Record<'viewer' | 'operator', string> = { viewer: '', operator: '' };

before(async () => {
  // The local agent talks to libvirt; without it the controller runs no jobs at all.
  const unavailable = await ensureLibvirt();
  assert.equal(unavailable, null, `libvirt is needed for the local agent: ${unavailable}`);
  const src = join(tmp.dir, 'src');
  mkdirSync(join(src, 'reports'), { recursive: true });
  writeFileSync(join(src, 'reports', 'q3-summary.ods'), 'quarterly\n');
  buildExt4(join(tmp.dir, 'p1.part'), src, 16);
  buildDisk(join(tmp.dir, 'fin.img'), 18, 'gpt', [{ file: join(tmp.dir, 'p1.part'), sizeMiB: 16 }]);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  const b = await vmbak(['backup', '--image', join(tmp.dir, 'fin.img'), '--vm', 'fin', '--no-progress', '--json'], env);
  assert.equal(b.code, 0, b.stderr);
  backupId = jsonLine<{ backupId: string }>(b).backupId;
  writeFileSync(join(tmp.dir, 'repo.pass'), 'job pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `repositories:\n  - { name: local, url: ${repo}, passphraseFile: repo.pass }\npolicies: []\n`);
  base = `http://127.0.0.1:${await findFreePort()}`;
  for (const role of ['viewer', 'operator'] as const) {
    const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', role, '--name', role]);
    assert.equal(made.code, 0, made.stderr);
    tokens[role] = made.stdout.trim().split('\n').at(-1)!;
  }
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  tmp.remove();
});

async function call(method: string, path: string, role: 'viewer' | 'operator'): Promise<Response> {
  return fetch(`${base}/api/v1${path}`, { method, headers: { authorization: `Bearer ${tokens[role]}` } });
}

test('POST …/index is an operator\'s job that indexes the backup into the repository and the catalog', { timeout: 600_000 }, async () => {
  const child = spawnVmbak(['serve', '--data-dir', dataDir, '--config', join(tmp.dir, 'vmbak.yaml'), '--listen', base.replace('http://', ''), '--connect', TEST_URI, '--rebuild-catalog']);
  children.add(child);
  let out = '';
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const deadline = Date.now() + 60_000;
  while ((await fetch(`${base}/api/v1/health`).catch(() => null))?.status !== 200) {
    assert.ok(Date.now() < deadline, `serve did not come up: ${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await call('POST', `/backups/local/${backupId}/index`, 'viewer')).status, 403);
  assert.equal((await call('POST', '/backups/local/no-such-backup/index', 'operator')).status, 404);
  const submitted = await call('POST', `/backups/local/${backupId}/index`, 'operator');
  assert.equal(submitted.status, 202, await submitted.clone().text());
  const job = (await submitted.json()) as { id: string; kind: string };
  assert.equal(job.kind, 'index');

  let detail: { job: { state: string; error: string | null }; events: { message: string }[] } | null = null;
  const until = Date.now() + 300_000;
  for (;;) {
    detail = (await (await call('GET', `/jobs/${job.id}`, 'viewer')).json()) as typeof detail;
    if (['succeeded', 'warning', 'failed', 'aborted', 'interrupted'].includes(detail!.job.state)) break;
    assert.ok(Date.now() < until, `the index job did not finish: ${JSON.stringify(detail)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(detail!.job.state, 'succeeded', JSON.stringify(detail));
  assert.ok(detail!.events.some((e) => /indexed \d+ files of/.test(e.message)), JSON.stringify(detail!.events));

  const found = (await (await call('GET', '/files/find?name=q3-summary.ods', 'viewer')).json()) as { files: { fs: string; path: string }[] };
  assert.deepEqual(found.files.map((f) => `${f.fs}:${f.path}`), ['fin/p1:/reports/q3-summary.ods']);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('close', r));
  const fromRepo = await vmbak(['files', 'find', 'q3-summary.ods', '--json'], env);
  assert.equal(fromRepo.code, 0, fromRepo.stderr);
  assert.match(fromRepo.stdout, /\/reports\/q3-summary\.ods/);
});
