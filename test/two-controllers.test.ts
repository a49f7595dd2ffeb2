// Two controllers sharing one catalog on PostgreSQL, one Redis and one secrets key, as a user
// runs them for no single point of failure: a policy firing every 10 s is run exactly once per
// firing (the claim in the catalog), by an agent that knows both controllers. kill -9 of one
// controller: the other keeps scheduling and serving, the agent reports to it, and backups go on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createTestVm, destroyAllTestVms, ensureLibvirt, TEST_URI, type TestVm } from './support/libvirt.ts';
import { tempDir, vmbak } from './support/vmbak-cli.ts';
import { vmbakProcesses, waitFor } from './support/processes.ts';
import { findFreePort } from './support/free-port.ts';
import { redisUnavailable, startRedis, type RedisServer } from './support/redis.ts';
import { postgresUnavailable, startPostgres, type PostgresServer } from './support/postgres.ts';

const tmp = tempDir('two-ctl');
const processes = vmbakProcesses();
const repo = join(tmp.dir, 'repo');
let vm: TestVm;
let redis: RedisServer;
let pg: PostgresServer;
let catalogUrl = '';
let unavailable: string | null = null;

before(async () => {
  unavailable = redisUnavailable() ?? postgresUnavailable() ?? await ensureLibvirt();
  if (unavailable) return;
  vm = await createTestVm({ namePrefix: 'vmbak-two', disks: [{ target: 'vda', format: 'qcow2', sizeBytes: 16 << 20 }] });
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  catalogUrl = await pg.createDatabase();
  assert.equal((await vmbak(['repo', 'init', '--repo', repo], { VMBAK_PASSPHRASE: 'two pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'two pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `
repositories:
  - { name: local, url: ${repo}, passphraseFile: repo.pass, care: { verifyNew: false, verifyAll: false, gc: false } }
policies:
  - { name: two, vms: ["${vm.name}"], repositories: [local], schedule: "*/10 * * * * *" }
`);
}, { timeout: 120_000 });

after(async () => {
  processes.killAll();
  await redis?.close();
  await pg?.close();
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

type Job = { id: string; state: string; trigger: string; host: string | null; params: { fireMs?: number } };

test('two controllers on one catalog: each firing runs once; one killed, the other carries on', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const serve = async (name: string) => {
    const url = `http://127.0.0.1:${await findFreePort()}`;
    const served = processes.spawn(['serve', '--data-dir', join(tmp.dir, name), '--catalog', catalogUrl, '--secrets-key', join(tmp.dir, 'shared.key'),
      '--config', join(tmp.dir, 'vmbak.yaml'), '--listen', url.replace('http://', ''), '--no-local-agent', '--redis', redis.url]);
    await waitFor(`controller ${name}`, async () => (await fetch(`${url}/api/v1/health`).catch(() => null))?.status === 200, 60_000, served.output);
    return { ...served, url };
  };
  const a = await serve('a');
  const b = await serve('b');
  const token = async (role: string) => (await vmbak(['token', 'create', '--data-dir', join(tmp.dir, 'a'), '--catalog', catalogUrl, '--role', role, '--name', role])).stdout.trim().split('\n').at(-1)!;
  const viewer = await token('viewer');
  const jobs = async (base: string) => {
    const res = await fetch(`${base}/api/v1/jobs?limit=1000`, { headers: { authorization: `Bearer ${viewer}` } });
    assert.equal(res.status, 200, await res.clone().text());
    return ((await res.json()) as { items: Job[] }).items;
  };
  const agent = processes.spawn(['agent', '--controller', `${a.url},${b.url}`, '--token', await token('agent'), '--host-name', 'kvm-a', '--connect', TEST_URI]);

  await waitFor('three scheduled backups', async () => (await jobs(b.url)).filter((j) => j.trigger === 'schedule' && j.state === 'succeeded').length >= 3, 120_000, agent.output);
  const fired = (await jobs(b.url)).filter((j) => j.trigger === 'schedule');
  const fireTimes = fired.map((j) => j.params.fireMs);
  assert.equal(new Set(fireTimes).size, fireTimes.length, `each firing ran once: ${JSON.stringify(fireTimes)}`);
  // Firings before the agent's first inventory fail (no host has the VM yet); the rest ran on kvm-a.
  assert.ok(fired.filter((j) => j.state === 'succeeded').every((j) => j.host === 'kvm-a'));

  a.child.kill('SIGKILL');
  await a.exited;
  const killedMs = Date.now();
  await waitFor('a backup scheduled after the kill, run and reported', async () =>
    (await jobs(b.url)).some((j) => j.trigger === 'schedule' && j.state === 'succeeded' && (j.params.fireMs ?? 0) > killedMs), 60_000, agent.output);
  const after = (await jobs(b.url)).filter((j) => j.trigger === 'schedule').map((j) => j.params.fireMs);
  assert.equal(new Set(after).size, after.length, 'still once per firing');
  const stuck = (await jobs(b.url)).filter((j) => j.state === 'running' && (j.params.fireMs ?? 0) < killedMs - 30_000);
  assert.deepEqual(stuck, [], 'no job of the killed controller hangs in running');

  agent.child.kill('SIGTERM');
  assert.equal(await agent.exited, 0, agent.output().slice(-2000));
  b.child.kill('SIGTERM');
  assert.equal(await b.exited, 0, b.output().slice(-2000));
});
