// `vmbak serve` as a user runs it, over HTTP on a real socket, against a real libvirt VM: a
// token made with the server stopped works once it runs; a policy firing every 10 s backs
// the VM up (the second incremental) and `GET /api/v1/backups?vm=` lists it; kill -9 in the
// middle of a hot backup, then a restart: the job is `interrupted`, the hypervisor is clean
// (no backup job, no scratch file, no stray checkpoint) and the next run succeeds; SIGTERM
// exits 0; a deleted catalog comes back with --rebuild-catalog listing the same backups.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { createTestVm, destroyAllTestVms, ensureLibvirt, virshTest, type TestVm } from './support/libvirt.ts';
import { spawnVmbak, tempDir, vmbak } from './support/vmbak-cli.ts';
import { findFreePort } from './support/free-port.ts';

const tmp = tempDir('serve');
const children = new Set<ChildProcess>();
const dataDir = join(tmp.dir, 'data');
const repo = join(tmp.dir, 'repo');
const configFile = join(tmp.dir, 'vmbak.yaml');
const tag = `srv${randomBytes(3).toString('hex')}`;
let vm: TestVm;
let unavailable: string | null = null;
let base = '';
let token = '';

before(async () => {
  unavailable = await ensureLibvirt();
  if (unavailable) return;
  vm = await createTestVm({ namePrefix: 'vmbak-srv', tags: [tag], disks: [{ target: 'vda', format: 'qcow2', sizeBytes: 32 << 20 }] });
  assert.equal((await vmbak(['repo', 'init', '--repo', repo], { VMBAK_PASSPHRASE: 'srv pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'srv pass\n');
  writeFileSync(configFile, `
repositories:
  - { name: local, url: ${repo}, passphraseFile: repo.pass }
policies:
  - { name: srv, vms: ["tag:${tag}"], repositories: [local], schedule: "*/10 * * * * *", retention: { keepLast: 5 } }
`);
  base = `http://127.0.0.1:${await findFreePort()}`;
}, { timeout: 120_000 });

after(async () => {
  for (const c of children) c.kill('SIGKILL'); // a failed test leaves no server running
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

interface Served {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

async function serve(...extra: string[]): Promise<Served> {
  const child = spawnVmbak(['serve', '--data-dir', dataDir, '--config', configFile, '--listen', base.replace('http://', ''), '--streams', '1', ...extra]);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  children.add(child);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => { children.delete(child); resolve(code); }));
  await waitFor('health', async () => (await fetch(`${base}/api/v1/health`).catch(() => null))?.status === 200, 60_000);
  return { child, output: () => out, exited };
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as T;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Page<T> = { items: T[]; total: number };
type Backup = { backupId: string; incremental: boolean };
type Job = { id: string; state: string };

test('serve: tokens, scheduled backups over HTTP, kill -9 mid-backup, graceful stop, catalog rebuild', { timeout: 420_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  // A token made while no server runs.
  const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'viewer', '--name', 'test']);
  assert.equal(made.code, 0, made.stderr);
  token = made.stdout.trim().split('\n').at(-1)!;

  let served = await serve();
  assert.equal((await fetch(`${base}/api/v1/backups`)).status, 401, 'no token, no answer');
  await waitFor('two backups', async () => (await api<Page<Backup>>(`/backups?vm=${vm.name}`)).items.length >= 2, 120_000);
  const listed = (await api<Page<Backup>>(`/backups?vm=${vm.name}`)).items;
  assert.ok(listed.some((b) => b.incremental), 'the second backup is incremental');

  // kill -9 while a backup runs: the libvirt job is left behind.
  await waitFor('a running job', async () => (await api<Page<Job>>('/jobs?state=running')).items.length > 0, 60_000);
  const running = (await api<Page<Job>>('/jobs?state=running')).items[0]!;
  served.child.kill('SIGKILL');
  await served.exited;

  served = await serve();
  const after = await api<{ job: Job; vms: { state: string }[] }>(`/jobs/${running.id}`);
  assert.equal(after.job.state, 'interrupted', 'the killed run\'s job is interrupted');
  assert.doesNotMatch(await virshTest('domjobinfo', vm.name), /Backup/, 'no backup job left on the hypervisor');
  const checkpoints = (await virshTest('checkpoint-list', vm.name, '--name')).trim().split('\n').filter(Boolean);
  assert.ok(checkpoints.length <= 1, `at most the checkpoint the newest backup needs: ${checkpoints.join(', ')}`);
  const before = (await api<Page<Backup>>(`/backups?vm=${vm.name}`)).total;
  await waitFor('a backup after the restart', async () => (await api<Page<Backup>>(`/backups?vm=${vm.name}`)).total > before, 120_000);

  served.child.kill('SIGTERM');
  assert.equal(await served.exited, 0, served.output());
  const ids = (await vmbak(['backups', 'ls', '--repo', repo, '--json'], { VMBAK_PASSPHRASE: 'srv pass' }));
  const inRepo = (JSON.parse(ids.stdout) as { backupId: string }[]).map((b) => b.backupId).sort();

  // The catalog is a cache: deleted, it is rebuilt from the repository (the token goes with it).
  rmSync(join(dataDir, 'catalog.sqlite'), { force: true });
  rmSync(join(dataDir, 'catalog.sqlite-wal'), { force: true });
  rmSync(join(dataDir, 'catalog.sqlite-shm'), { force: true });
  token = (await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'viewer', '--name', 'again'])).stdout.trim().split('\n').at(-1)!;
  served = await serve('--rebuild-catalog');
  const rebuilt = (await api<Page<Backup>>(`/backups?vm=${vm.name}&limit=100`)).items.map((b) => b.backupId).sort();
  assert.deepEqual(rebuilt.filter((id) => inRepo.includes(id)), inRepo, 'the rebuilt catalog lists every backup of the repository');
  served.child.kill('SIGTERM');
  assert.equal(await served.exited, 0);
});
