// The controller with its local agent, against real libvirt VMs, a real SMTP server and a
// webhook receiver: a config file with a policy firing every 10 s over two running VMs
// backs each up again and again (incrementals after the first), keeps the policy's retention
// in the repository and the catalog; a VM of a disabled policy raises rpo.missed; the
// repository made unreachable fails the next runs with exactly one job.failed mail and one
// signed webhook, and raises repository.unreachable; stopping leaves no backup job on the
// hypervisor. The repository's care runs on its own schedule: new backups get verified, each
// backup job leaves a usage sample, and a low nearly-full threshold raises its alert once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import { Controller, type ControllerLog } from '../src/controller/index.ts';
import { listBackups, listJobs, listJobVms, listUsage } from '../src/catalog/index.ts';
import { startReceiver, startSmtpServer } from '../src/alerts/alerts-test-support.ts';
import { createTestVm, destroyAllTestVms, ensureLibvirt, virshTest, TEST_URI, type TestVm } from './support/libvirt.ts';
import { vmbak, tempDir } from './support/vmbak-cli.ts';
import { waitFor } from './support/processes.ts';

const tmp = tempDir('controller');
const tag = `ctl${randomBytes(3).toString('hex')}`;
const vms: TestVm[] = [];
let unavailable: string | null = null;

before(async () => {
  unavailable = await ensureLibvirt();
  if (unavailable) return;
  for (const t of [`${tag}-web`, `${tag}-web`, `${tag}-off`]) {
    vms.push(await createTestVm({ namePrefix: 'vmbak-ctl', tags: [t], disks: [{ target: 'vda', format: 'qcow2', sizeBytes: 16 << 20 }] }));
  }
}, { timeout: 120_000 });

after(async () => {
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

function captureLog(): { log: ControllerLog; lines: string[] } {
  const lines: string[] = [];
  const line = (level: string) => (fields: object, message: string) => { lines.push(`${level} ${message} ${JSON.stringify(fields)}`); };
  return { log: { info: line('info'), warn: line('warn'), error: line('error') }, lines };
}

test('scheduled backups, retention, RPO and failure alerts, graceful stop', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const [web1, web2, off] = vms as [TestVm, TestVm, TestVm];
  const repo = join(tmp.dir, 'repo');
  assert.equal((await vmbak(['repo', 'init', '--repo', repo], { VMBAK_PASSPHRASE: 'ctl pass' })).code, 0);
  writeFileSync(join(tmp.dir, 'repo.pass'), 'ctl pass\n');
  writeFileSync(join(tmp.dir, 'hook.secret'), 'hook secret\n');
  const smtp = await startSmtpServer(t);
  const hook = await startReceiver(t);
  const configFile = join(tmp.dir, 'vmbak.yaml');
  writeFileSync(configFile, `
repositories:
  - name: local
    url: ${repo}
    passphraseFile: repo.pass
    care: { verifyNew: "*/4 * * * * *", verifyAll: false, gc: false, nearlyFullPercent: 1 }
policies:
  - name: web
    vms: ["tag:${tag}-web"]
    repositories: [local]
    schedule: "*/10 * * * * *"
    rpo: 1h
    retention: { keepLast: 2 }
  - name: off
    vms: ["tag:${tag}-off"]
    repositories: [local]
    schedule: "0 0 1 1 *"
    rpo: 1s
    enabled: false
alerts:
  channels:
    - { name: mail, type: smtp, host: 127.0.0.1, port: ${smtp.port}, security: none, from: vmbak@example.com, to: [ops@example.com], retries: 0 }
    - { name: hook, type: webhook, url: ${hook.url}, secretFile: hook.secret, retries: 0 }
  rules:
    - { events: [job.failed, rpo.missed], channels: [mail, hook] }
    - { events: [repository.nearly-full, repository.unreachable], channels: [hook] }
`);
  const { log, lines } = captureLog();
  const controller = await Controller.open({
    dataDir: join(tmp.dir, 'data'), configFile, localAgent: true, streams: 2, connect: TEST_URI, log,
    schedulerTickMs: 250, rpoEveryMs: 1000, inventoryEveryMs: 5000,
  });
  let stopped = false;
  t.after(async () => { if (!stopped) await controller.stop(); });
  await controller.start();
  assert.ok(controller.isReady());
  const { catalog } = controller;

  // Three firings at least: both VMs backed up three times, retention keeps two of each.
  const succeeded = async () => (await listJobs(catalog, { policy: 'web', state: 'succeeded' })).items;
  await waitFor('three successful runs of policy web', async () => (await succeeded()).length >= 3, 120_000);
  for (const vm of [web1, web2]) {
    const kept = (await listBackups(catalog, { vm: vm.uuid })).items;
    assert.equal(kept.length, 2, `retention keeps two backups of ${vm.name} (catalog)`);
    assert.ok(kept.every((b) => b.incremental), `the kept backups of ${vm.name} are incremental`);
    const inRepo = JSON.parse((await vmbak(['backups', 'ls', '--repo', repo, '--vm', vm.name, '--json'], { VMBAK_PASSPHRASE: 'ctl pass' })).stdout) as { backupId: string }[];
    assert.deepEqual(inRepo.map((b) => b.backupId).sort(), kept.map((b) => b.backupId).sort(), `and the repository holds just those (${vm.name})`);
  }
  const firstJob = (await succeeded()).at(-1)!;
  assert.deepEqual((await listJobVms(catalog, firstJob.id)).map((v) => v.state), ['succeeded', 'succeeded']);

  // Each backup job sampled the repository's usage, capacity from its filesystem (the test
  // disks are all zeros: their chunks take no space, but they are what the backups describe).
  const samples = await listUsage(catalog, 'local');
  assert.ok(samples.length >= 3, `a usage sample after each backup job (${samples.length})`);
  const sample = samples.at(-1)!;
  assert.ok(sample.logicalBytes >= 2 * (16 << 20) && (sample.capacityBytes ?? 0) > 0, JSON.stringify(sample));
  // Scheduled verify of what is new: backups turn ok, and the threshold of 1% raised nearly-full once.
  await waitFor('a scheduled verify of new backups', async () => (await listBackups(catalog, { repository: 'local' })).items.some((b) => b.verifyState === 'ok'), 30_000);
  const verifyJobs = (await listJobs(catalog, { kind: 'verify' })).items;
  assert.ok(verifyJobs.length > 0 && verifyJobs.every((j) => j.trigger === 'schedule'), 'verify jobs come from the care schedule');
  await controller.notifier.drain();
  assert.equal(hook.requests.filter((r) => r.headers['x-vmbak-event'] === 'repository.nearly-full').length, 1, 'one nearly-full webhook (de-duplicated)');

  // The disabled policy's VM has no backup and an RPO of 1 s: one rpo.missed alert, both channels.
  await waitFor('rpo.missed on both channels', async () => smtp.mails.some((m) => m.raw.includes('rpo.missed')) && hook.requests.some((r) => r.headers['x-vmbak-event'] === 'rpo.missed'), 30_000);
  const rpoMail = smtp.mails.find((m) => m.raw.includes('rpo.missed'))!.raw.replace(/=\r?\n/g, ''); // quoted-printable soft breaks
  assert.ok(rpoMail.includes(off.name), rpoMail);
  assert.ok(!smtp.mails.some((m) => m.raw.includes('rpo.missed') && (m.raw.includes(web1.name) || m.raw.includes(web2.name))), 'VMs within their RPO raise nothing');

  // The repository disappears: the next runs fail; one job.failed alert per channel (de-duplicated).
  renameSync(repo, `${repo}.gone`);
  const failed = async () => (await listJobs(catalog, { policy: 'web', state: 'failed' })).items.length;
  await waitFor('two failed runs', async () => (await failed()) >= 2, 60_000);
  await controller.notifier.drain();
  const failedMails = smtp.mails.filter((m) => m.raw.includes('job.failed'));
  const failedHooks = hook.requests.filter((r) => r.headers['x-vmbak-event'] === 'job.failed');
  assert.equal(failedMails.length, 1, 'exactly one job.failed mail');
  assert.equal(failedHooks.length, 1, 'exactly one job.failed webhook');
  // The receiver checks the signature as docs/config.md tells it to, with its own HMAC.
  const expected = `sha256=${createHmac('sha256', 'hook secret').update(failedHooks[0]!.body).digest('hex')}`;
  assert.equal(failedHooks[0]!.headers['x-vmbak-signature'], expected, 'the webhook is signed with the channel secret');
  assert.match(JSON.parse(failedHooks[0]!.body.toString()).message, /no vmbak repository|does not exist|repo/);
  const unreachable = hook.requests.filter((r) => r.headers['x-vmbak-event'] === 'repository.unreachable');
  assert.equal(unreachable.length, 1, 'one repository.unreachable webhook (de-duplicated)');
  assert.match(JSON.parse(unreachable[0]!.body.toString()).message, /repository local is unreachable/);
  renameSync(`${repo}.gone`, repo);

  // Restore and prune as jobs, through the controller's API: a backup's disk into a directory
  // (proven against its digest), then the policy's retention on demand.
  const newest = (await listBackups(catalog, { vm: web1.uuid })).items[0]!;
  const restoreDir = join(tmp.dir, 'restored');
  const restore = await controller.submitJob({ kind: 'restore', repository: 'local', backup: newest.backupId, toDir: restoreDir }, 'test');
  const prune = await controller.submitJob({ kind: 'prune', policy: 'web' }, 'test');
  const finished = async (id: string) => (await listJobs(catalog, {})).items.find((j) => j.id === id && !['queued', 'running', 'paused'].includes(j.state));
  await waitFor('the restore and prune jobs', async () => Boolean(await finished(restore.id)) && Boolean(await finished(prune.id)), 60_000);
  assert.equal((await finished(restore.id))!.state, 'succeeded', (await finished(restore.id))!.error ?? '');
  assert.equal(statSync(join(restoreDir, 'vda.raw')).size, 16 << 20, 'the restored disk has the VM disk\'s size');
  assert.equal((await finished(prune.id))!.state, 'succeeded', (await finished(prune.id))!.error ?? '');
  // Delete one backup: gone from the repository and the catalog alike.
  await controller.deleteBackup('local', newest.backupId, { catalogOnly: false });
  const left = JSON.parse((await vmbak(['backups', 'ls', '--repo', repo, '--json'], { VMBAK_PASSPHRASE: 'ctl pass' })).stdout) as { backupId: string }[];
  assert.ok(!left.some((b) => b.backupId === newest.backupId), 'deleted from the repository');
  assert.equal((await listBackups(catalog, { vm: web1.uuid })).items.some((b) => b.backupId === newest.backupId), false, 'and from the catalog');

  stopped = true;
  await controller.stop();
  for (const vm of vms) assert.doesNotMatch(await virshTest('domjobinfo', vm.name), /Backup/, `no backup job left on ${vm.name}`);
  assert.ok(!lines.some((l) => l.includes('ctl pass') || l.includes('hook secret')), 'no secret in the log');
});
