// Pause, resume and abort through the controller's API reach a backup an agent runs on its
// host: the controller answers the agent's next report with them (and the reports carry each
// disk's progress to the job's stream). Paused, the agent stops reading; resumed, it goes on;
// aborted, the backup ends with nothing recorded and the libvirt backup job gone. (Each pack write is slowed by the fault wrapper so the backup
// lasts long enough to steer.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestVm, destroyAllTestVms, ensureLibvirt, virshTest, TEST_URI, type TestVm } from './support/libvirt.ts';
import { tempDir, vmbak } from './support/vmbak-cli.ts';
import { findFreePort } from './support/free-port.ts';
import { redisUnavailable, startRedis, type RedisServer } from './support/redis.ts';
import { vmbakProcesses, waitFor } from './support/processes.ts';
import { readEvents } from '../src/server/server-test-support.ts';

const tmp = tempDir('agent-ctl');
const processes = vmbakProcesses();
const dataDir = join(tmp.dir, 'data');
const repo = join(tmp.dir, 'repo');
const DISK_BYTES = 128 << 20;
let vm: TestVm;
let redis: RedisServer;
let unavailable: string | null = null;

before(async () => {
  unavailable = redisUnavailable() ?? await ensureLibvirt();
  if (unavailable) return;
  vm = await createTestVm({ namePrefix: 'vmbak-actl', disks: [{ target: 'vda', format: 'raw', sizeBytes: DISK_BYTES }], start: 'defined' });
  const fd = openSync(vm.disks[0]!.path, 'r+');
  for (let off = 0; off < DISK_BYTES; off += 8 << 20) writeSync(fd, randomBytes(8 << 20), 0, 8 << 20, off);
  closeSync(fd);
  await virshTest('start', vm.name, '--paused');
  redis = await startRedis();
  assert.equal((await vmbak(['repo', 'init', '--repo', repo, '--pack-size', '4M'], { VMBAK_PASSPHRASE: 'ctl pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'ctl pass\n');
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `
repositories:
  - { name: local, url: ${repo}, passphraseFile: repo.pass, care: { verifyNew: false, verifyAll: false, gc: false } }
policies:
  - { name: ctl, vms: ["${vm.name}"], repositories: [local], schedule: "0 0 1 1 *" }
`);
}, { timeout: 120_000 });

after(async () => {
  processes.killAll();
  await redis?.close();
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

type Job = { id: string; state: string; bytesRead: number; error: string | null };

test('pause, resume and abort from the API reach the agent\'s running backup', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const base = `http://127.0.0.1:${await findFreePort()}`;
  const token = async (role: string) => (await vmbak(['token', 'create', '--data-dir', dataDir, '--role', role, '--name', role])).stdout.trim().split('\n').at(-1)!;
  const operator = await token('operator');
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}/api/v1${path}`, {
      method, headers: { authorization: `Bearer ${operator}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
    });
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  };
  const served = processes.spawn(['serve', '--data-dir', dataDir, '--config', join(tmp.dir, 'vmbak.yaml'), '--listen', base.replace('http://', ''), '--no-local-agent', '--redis', redis.url]);
  await waitFor('the controller', async () => (await fetch(`${base}/api/v1/health`).catch(() => null))?.status === 200, 60_000, served.output);
  const agent = processes.spawn(['agent', '--controller', base, '--token', await token('agent'), '--host-name', 'kvm-a', '--connect', TEST_URI, '--streams', '1'], {
    VMBAK_TEST_FAULTS: JSON.stringify([{ op: 'put', match: 'packs/', action: 'delay', ms: 1500 }]),
  });
  await waitFor('the agent\'s inventory', async () => (await api<{ items: { host: string }[] }>('GET', `/vms?vm=${vm.name}`)).items[0]?.host === 'kvm-a', 60_000, agent.output);
  const state = async (id: string) => (await api<{ job: Job }>('GET', `/jobs/${id}`)).job;

  const job = await api<Job>('POST', '/jobs', { kind: 'backup', policy: 'ctl' });
  await waitFor('reading to begin', async () => (await state(job.id)).bytesRead > 0, 60_000, agent.output);
  // The agent's reports carry its disk's progress: the job's stream has the bar for vda.
  const events = await readEvents(base, `/api/v1/jobs/${job.id}/events`, operator,
    (e) => e.event === 'update' && (e.data.disks ?? []).some((d: { disk: string; bytesRead: number }) => d.disk === 'vda' && d.bytesRead > 0), { timeoutMs: 15_000 });
  const vda = events.at(-1)!.data.disks.find((d: { disk: string }) => d.disk === 'vda');
  assert.ok(vda.vm === vm.name && vda.bytesTotal >= vda.bytesRead && vda.rateBytesPerSec > 0, `a disk update from the agent: ${JSON.stringify(vda)}`);
  assert.equal((await api<Job>('POST', `/jobs/${job.id}/pause`)).state, 'paused');
  await sleep(3000); // the agent's next report brings the pause; batches in flight drain
  const pausedAt = (await state(job.id)).bytesRead;
  await sleep(4000);
  const stillPaused = await state(job.id);
  assert.equal(stillPaused.state, 'paused');
  assert.equal(stillPaused.bytesRead, pausedAt, 'no reading while paused');

  assert.equal((await api<Job>('POST', `/jobs/${job.id}/resume`)).state, 'running');
  await waitFor('reading again', async () => (await state(job.id)).bytesRead > pausedAt, 30_000, agent.output);
  await api<Job>('POST', `/jobs/${job.id}/abort`);
  await waitFor('the job to end', async () => !['running', 'paused'].includes((await state(job.id)).state), 60_000, agent.output);
  const ended = await state(job.id);
  assert.equal(ended.state, 'aborted', `${ended.error}`);
  assert.equal((await api<{ total: number }>('GET', `/backups?vm=${vm.name}`)).total, 0, 'nothing recorded');
  assert.equal(JSON.parse((await vmbak(['backups', 'ls', '--repo', repo, '--json'], { VMBAK_PASSPHRASE: 'ctl pass' })).stdout).length, 0);
  await waitFor('no backup job on the hypervisor', async () => !/Backup/.test(await virshTest('domjobinfo', vm.name)), 30_000);
});
