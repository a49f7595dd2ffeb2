// Agents on the hosts, as a user runs them: `vmbak serve --redis … --no-local-agent` with a
// real Redis (AOF, noeviction) and `vmbak agent` against a real libvirt VM, talking to the
// controller through a proxy that counts every byte. Each agent reaches Redis as a user of its
// own that sees only its host's queue. "Run now" queues the VM's backup on its host's queue;
// the agent backs it up straight into the repository — the controller's
// sockets carry a few KiB of reports while the agent reads the whole disk. kill -9 of the
// agent in the middle of its backup leaves a libvirt backup job behind; the restarted agent
// sweeps it before taking work, BullMQ hands it the stalled job again, and it finishes: the
// job succeeds (its log says it ran again), the backup is in the catalog and the repository,
// and the hypervisor is clean. Redis restarted while the next backup runs loses and repeats
// nothing; a controller killed while an agent backs up gets the agent's report when it is back.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, openSync, writeSync, closeSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createTestVm, destroyAllTestVms, ensureLibvirt, hmpWrite, virshTest, TEST_URI, type TestVm } from './support/libvirt.ts';
import { tempDir, vmbak } from './support/vmbak-cli.ts';
import { vmbakProcesses, waitFor } from './support/processes.ts';
import { findFreePort } from './support/free-port.ts';
import { redisUnavailable, startRedis, type RedisServer } from './support/redis.ts';
import { startCountingProxy, type CountingProxy } from './support/counting-proxy.ts';

const tmp = tempDir('agents');
const processes = vmbakProcesses();
const dataDir = join(tmp.dir, 'data');
const repo = join(tmp.dir, 'repo');
const DISK_BYTES = 96 << 20;
let vm: TestVm;
let redis: RedisServer;
let proxy: CountingProxy;
let unavailable: string | null = null;
let base = '';

before(async () => {
  unavailable = redisUnavailable() ?? await ensureLibvirt();
  if (unavailable) return;
  vm = await createTestVm({ namePrefix: 'vmbak-agt', disks: [{ target: 'vda', format: 'raw', sizeBytes: DISK_BYTES }], start: 'defined' });
  // Real data, so the backup has something to carry (a stored chunk per 64 KiB).
  const fd = openSync(vm.disks[0]!.path, 'r+');
  for (let off = 0; off < DISK_BYTES; off += 8 << 20) writeSync(fd, randomBytes(8 << 20), 0, 8 << 20, off);
  closeSync(fd);
  await virshTest('start', vm.name, '--paused');
  redis = await startRedis();
  assert.equal((await vmbak(['repo', 'init', '--repo', repo], { VMBAK_PASSPHRASE: 'agt pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'agt pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `
repositories:
  - { name: local, url: ${repo}, passphraseFile: repo.pass, care: { verifyNew: false, verifyAll: false, gc: false } }
policies:
  - { name: agt, vms: ["${vm.name}"], repositories: [local], schedule: "0 0 1 1 *" }
`);
  const port = await findFreePort();
  base = `http://127.0.0.1:${port}`;
  proxy = await startCountingProxy(port);
}, { timeout: 120_000 });

after(async () => {
  processes.killAll();
  await proxy?.close();
  await redis?.close();
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

type Page<T> = { items: T[]; total: number };
type Job = { id: string; state: string; host: string | null; bytesRead: number; error: string | null };

test('an agent backs up its host\'s VM straight to the repository; kill -9 mid-backup, restart: swept, retried, done', { timeout: 420_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const token = async (role: string) => {
    const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', role, '--name', role]);
    assert.equal(made.code, 0, made.stderr);
    return made.stdout.trim().split('\n').at(-1)!;
  };
  const operator = await token('operator');
  const agentToken = await token('agent');
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${operator}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };

  const served = processes.spawn(['serve', '--data-dir', dataDir, '--config', join(tmp.dir, 'vmbak.yaml'), '--listen', base.replace('http://', ''),
    '--no-local-agent', '--redis', redis.url]);
  await waitFor('the controller', async () => (await fetch(`${base}/api/v1/health`).catch(() => null))?.status === 200, 60_000, served.output);

  const heldFile = join(tmp.dir, 'held');
  const agentArgs = ['agent', '--controller', `http://127.0.0.1:${proxy.port}`, '--token', agentToken, '--host-name', 'kvm-a', '--connect', TEST_URI, '--streams', '1'];
  // The first agent stops at its second pack (held until killed), so the kill lands mid-backup.
  const faults = JSON.stringify([{ op: 'put', match: 'packs/', nth: 2, action: 'hold', heldFile, releaseFile: join(tmp.dir, 'never') }]);
  const first = processes.spawn(agentArgs, { VMBAK_TEST_FAULTS: faults, VMBAK_AGENT_LOCK_MS: '4000' });
  await waitFor('the agent\'s inventory', async () => (await api<Page<{ name: string; host: string }>>('GET', `/vms?vm=${vm.name}`)).items[0]?.host === 'kvm-a', 60_000, first.output);

  // Each agent gets a Redis user of its own that reaches its host's queue and the care queue only.
  const probe = await fetch(`${base}/api/v1/agent/hosts/probe/register`, {
    method: 'POST', headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ uri: null }),
  });
  const { redisUrl } = await probe.json() as { redisUrl: string };
  assert.match(redisUrl, /^redis:\/\/vmbak-agent-probe:[^@]+@127\.0\.0\.1:/);
  const asProbe = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    assert.equal(await asProbe.get('bull:vmbak-host-probe:meta'), null, 'its own queue\'s keys');
    await assert.rejects(asProbe.get('bull:vmbak-host-kvm-a:meta'), /NOPERM/, 'not another host\'s');
    await assert.rejects(asProbe.call('FLUSHALL'), /NOPERM/);
  } finally {
    asProbe.disconnect();
  }

  const job = await api<Job>('POST', '/jobs', { kind: 'backup', policy: 'agt' });
  assert.equal(job.host, 'kvm-a', 'the job goes to the VM\'s host');
  await waitFor('the agent to hold its second pack', async () => existsSync(heldFile), 120_000, first.output);
  assert.match(await virshTest('domjobinfo', vm.name), /Backup/, 'a libvirt backup job runs');
  first.child.kill('SIGKILL');
  await first.exited;
  assert.equal((await api<{ job: Job }>('GET', `/jobs/${job.id}`)).job.state, 'running', 'the job waits for its host');

  const second = processes.spawn(agentArgs, { VMBAK_AGENT_LOCK_MS: '4000' });
  await waitFor('the job to finish', async () => !['queued', 'running'].includes((await api<{ job: Job }>('GET', `/jobs/${job.id}`)).job.state), 180_000, second.output);
  const done = await api<{ job: Job; vms: { state: string; backupId: string | null }[]; events: { message: string }[] }>('GET', `/jobs/${job.id}`);
  assert.equal(done.job.state, 'succeeded', `${done.job.error}\n${second.output().slice(-3000)}`);
  assert.match(second.output(), /"leftover":\{[^}]*"vmName":"vmbak-agt-[^}]*"jobAborted":true/, 'the restarted agent aborted the killed run\'s libvirt job before taking work');
  assert.ok(done.events.some((e) => /running again on kvm-a/.test(e.message)), `the log says the job ran again: ${done.events.map((e) => e.message).join(' | ')}`);
  assert.doesNotMatch(await virshTest('domjobinfo', vm.name), /Backup/, 'no backup job left on the hypervisor');

  const backups = await api<Page<{ backupId: string; host: string }>>('GET', `/backups?vm=${vm.name}`);
  assert.equal(backups.total, 1);
  const inRepo = JSON.parse((await vmbak(['backups', 'ls', '--repo', repo, '--json'], { VMBAK_PASSPHRASE: 'agt pass' })).stdout) as { backupId: string }[];
  assert.deepEqual(inRepo.map((b) => b.backupId), [backups.items[0]!.backupId], 'the repository holds the backup the catalog lists');
  assert.equal(done.job.bytesRead >= DISK_BYTES, true, `the agent read the whole disk (${done.job.bytesRead})`);
  const through = proxy.bytes.toServer + proxy.bytes.fromServer;
  assert.ok(through < DISK_BYTES / 20, `the controller's sockets carried ${through} bytes for a ${DISK_BYTES}-byte disk`);

  // A disk downloaded through the browser's route: restored by the controller itself (what a
  // browser downloads passes through it anyway), verified, and byte for byte the disk.
  const dl = await api<Job>('POST', `/backups/local/${backups.items[0]!.backupId}/restore`, { download: true, disk: 'vda', format: 'raw' });
  await waitFor('the download restore', async () => !['queued', 'running'].includes((await api<{ job: Job }>('GET', `/jobs/${dl.id}`)).job.state), 60_000, served.output);
  const dlJob = (await api<{ job: Job }>('GET', `/jobs/${dl.id}`)).job;
  assert.equal(dlJob.state, 'succeeded', dlJob.error ?? '');
  const image = await fetch(`${base}/api/v1/jobs/${dl.id}/download`, { headers: { authorization: `Bearer ${operator}` } });
  assert.equal(image.status, 200);
  const got = createHash('sha256').update(Buffer.from(await image.arrayBuffer())).digest('hex');
  assert.equal(got, createHash('sha256').update(readFileSync(vm.disks[0]!.path)).digest('hex'), 'the downloaded disk is the backed-up disk');

  // Redis restarted while the agent runs the next backup: both sides reconnect, the job (kept
  // by the append-only file) finishes once, and nothing runs twice.
  const next = await api<Job>('POST', '/jobs', { kind: 'backup', policy: 'agt' });
  await waitFor('the next job to run on the agent', async () => (await api<{ job: Job }>('GET', `/jobs/${next.id}`)).job.state === 'running', 60_000, second.output);
  await redis.restart();
  await waitFor('the next job to finish', async () => !['queued', 'running'].includes((await api<{ job: Job }>('GET', `/jobs/${next.id}`)).job.state), 120_000, second.output);
  const nextDone = await api<{ job: Job; events: { message: string }[] }>('GET', `/jobs/${next.id}`);
  assert.equal(nextDone.job.state, 'succeeded', `${nextDone.job.error}\n${second.output().slice(-3000)}`);
  assert.equal(nextDone.events.filter((e) => /^running (again )?on kvm-a/.test(e.message)).length, 1, 'the job ran once');
  assert.equal((await api<Page<unknown>>('GET', `/backups?vm=${vm.name}`)).total, 2);

  second.child.kill('SIGTERM');
  assert.equal(await second.exited, 0, second.output().slice(-2000));

  // The controller killed while an agent runs a backup: the agent finishes it, waits for the
  // controller with what it has to record, and reports when it is back.
  const held2 = join(tmp.dir, 'held2');
  const release2 = join(tmp.dir, 'release2');
  const third = processes.spawn(agentArgs, {
    VMBAK_AGENT_LOCK_MS: '4000', VMBAK_TEST_FAULTS: JSON.stringify([{ op: 'put', match: 'packs/', nth: 1, action: 'hold', heldFile: held2, releaseFile: release2 }]),
  });
  await waitFor('the third agent', async () => third.output().includes('agent ready'), 60_000, third.output);
  await hmpWrite(vm.name, 'vda', 0, 1 << 20, 0x5c);
  const last = await api<Job>('POST', '/jobs', { kind: 'backup', policy: 'agt' });
  await waitFor('the agent to hold its first pack', async () => existsSync(held2), 60_000, third.output);
  served.child.kill('SIGKILL');
  await served.exited;
  writeFileSync(release2, '');
  // The backup completes in the repository while nobody can record it; the agent waits with the record.
  const inRepository = async () => (JSON.parse((await vmbak(['backups', 'ls', '--repo', repo, '--json'], { VMBAK_PASSPHRASE: 'agt pass' })).stdout) as unknown[]).length;
  await waitFor('the backup in the repository while the controller is away', async () => (await inRepository()) === 3, 60_000, third.output);
  const again = processes.spawn(['serve', '--data-dir', dataDir, '--config', join(tmp.dir, 'vmbak.yaml'), '--listen', base.replace('http://', ''), '--no-local-agent', '--redis', redis.url]);
  await waitFor('the controller again', async () => (await fetch(`${base}/api/v1/health`).catch(() => null))?.status === 200, 60_000, again.output);
  await waitFor('the job reported', async () => (await api<{ job: Job }>('GET', `/jobs/${last.id}`)).job.state !== 'running', 60_000, third.output);
  assert.equal((await api<{ job: Job }>('GET', `/jobs/${last.id}`)).job.state, 'succeeded');
  const listed = await api<Page<{ backupId: string; repository: string; timeMs: number }>>('GET', `/backups?vm=${vm.name}`);
  assert.equal(listed.total, 3, `the backup made while the controller was away is in the catalog: ${JSON.stringify(listed.items)} / repository: ${await inRepository()}; jobs ${JSON.stringify((await api<Page<Job>>('GET', '/jobs')).items)}`);

  third.child.kill('SIGTERM');
  assert.equal(await third.exited, 0, third.output().slice(-2000));
  again.child.kill('SIGTERM');
  assert.equal(await again.exited, 0, again.output().slice(-2000));
});
