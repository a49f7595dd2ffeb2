import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VmInfo } from '../core/index.ts';
import type { Manifest } from '../repository/index.ts';
import { backupFromManifest, forgetBackups, getBackup, listBackups, recordBackups, replaceRepositoryBackups, setVerifyState, type BackupInput } from './backups.ts';
import { listVmProtection, summarizeProtection } from './protection.ts';
import { assignVmPolicies, findVms, listVms, syncHostVms } from './vms.ts';
import { chooseHost, listVmPlacements } from './vm-placements.ts';
import { markLostHosts } from './hosts.ts';
import { upsertPolicy } from './policies.ts';
import { removeRepository, upsertRepository } from './repositories.ts';
import { SecretsBox } from './secrets.ts';
import { tempCatalog, testClock } from './catalog-test-support.ts';
import type { Catalog } from './open.ts';

const HOUR = 3_600_000;
const box = new SecretsBox(Buffer.alloc(32, 7));
const vm = (uuid: string, name: string, tags: string[] = []): VmInfo => ({ uuid, name, state: 'running', host: 'h1', disks: [], tags });

function backup(repository: string, id: string, vmKey: string, vmName: string, timeMs: number): BackupInput {
  return {
    repository, backupId: id, vmKey, vmUuid: vmKey.startsWith('u') ? vmKey : null, vmName, host: 'h1', timeMs,
    logicalBytes: 1000, newBytes: 100, storedBytes: 50, consistency: 'crash', incremental: true,
  };
}

async function setup(catalog: Catalog): Promise<void> {
  await upsertRepository(catalog, box, { name: 'local', url: '/srv/a' });
  await upsertRepository(catalog, box, { name: 'offsite', url: '/srv/b' });
  await syncHostVms(catalog, 'h1', [vm('u1', 'web1', ['prod']), vm('u2', 'web2'), vm('u3', 'db1')]);
}

test('a VM’s backups are found by UUID or by name, newest first, across repositories, paged', async (t) => {
  const catalog = await tempCatalog(t);
  await setup(catalog);
  const rows: BackupInput[] = [];
  for (let d = 0; d < 30; d++) {
    rows.push(backup('local', `l${d}`, 'u1', 'web1', d * 24 * HOUR), backup('local', `x${d}`, 'u2', 'web2', d * 24 * HOUR));
    if (d % 10 === 0) rows.push(backup('offsite', `l${d}`, 'u1', 'web1', d * 24 * HOUR)); // a copy: same id and time elsewhere
  }
  rows.push(backup('local', 'img', 'scratch-vm', 'scratch-vm', 5)); // an image backup, keyed by name
  await recordBackups(catalog, rows);
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await listBackups(catalog, { vm: 'web1', limit: 8, cursor });
    assert.equal(page.total, 33);
    ids.push(...page.items.map((b) => `${b.repository}/${b.backupId}`));
    cursor = page.next;
  } while (cursor);
  assert.equal(new Set(ids).size, 33);
  assert.deepEqual(ids.slice(0, 3), ['local/l29', 'local/l28', 'local/l27']);
  assert.deepEqual((await listBackups(catalog, { vm: 'u1', repository: 'offsite' })).items.map((b) => b.backupId), ['l20', 'l10', 'l0']);
  assert.equal((await listBackups(catalog, { vm: 'scratch-vm' })).total, 1);
  assert.equal((await listBackups(catalog, { vm: 'nobody' })).total, 0);
  assert.equal((await listBackups(catalog)).total, rows.length);
});

test('a rebuild makes the list match the repository and keeps verify results of what stays', async (t) => {
  const catalog = await tempCatalog(t);
  await setup(catalog);
  await recordBackups(catalog, [backup('local', 'a', 'u1', 'web1', 1), backup('local', 'b', 'u1', 'web1', 2), backup('offsite', 'a', 'u1', 'web1', 1)]);
  await setVerifyState(catalog, 'local', 'a', 'ok');
  const result = await replaceRepositoryBackups(catalog, 'local', [backup('local', 'a', 'u1', 'web1', 1), backup('local', 'c', 'u1', 'web1', 3)]);
  assert.deepEqual(result, { added: 1, removed: 1 });
  assert.deepEqual((await listBackups(catalog, { repository: 'local' })).items.map((b) => b.backupId), ['c', 'a']);
  assert.equal((await getBackup(catalog, 'local', 'a'))!.verifyState, 'ok');
  assert.equal((await listBackups(catalog, { repository: 'offsite' })).total, 1, 'another repository is untouched');
});

test('a manifest becomes a backup row', () => {
  const m = {
    version: 1, backupId: 'B1', vm: { key: 'u1', name: 'web1', uuid: 'u1' }, time: '2026-01-02T03:04:05.000Z', host: 'h1',
    consistency: 'application', incremental: true, disks: [{ sizeBytes: 100 }, { sizeBytes: 50 }],
    stats: { bytesRead: 9, bytesNew: 7, bytesStored: 5, durationMs: 1 },
  } as unknown as Manifest;
  assert.deepEqual(backupFromManifest('local', m), {
    repository: 'local', backupId: 'B1', vmKey: 'u1', vmUuid: 'u1', vmName: 'web1', host: 'h1', timeMs: Date.UTC(2026, 0, 2, 3, 4, 5),
    logicalBytes: 150, newBytes: 7, storedBytes: 5, consistency: 'application', incremental: true, fullReason: null,
  });
  const full = { ...m, incremental: false, fallbackReason: null, disks: [{ sizeBytes: 100, fallbackReason: 'no changed-block tracking for this source' }] } as unknown as Manifest;
  assert.equal(backupFromManifest('local', full).fullReason, 'no changed-block tracking for this source', 'a full backup says why, from its disks');
});

test('inventory sync: VMs appear, move, and are marked gone, never deleted', async (t) => {
  const clock = testClock(1000);
  const catalog = await tempCatalog(t, clock);
  await setup(catalog);
  clock.advance(60_000);
  assert.deepEqual(await syncHostVms(catalog, 'h1', [vm('u1', 'web1'), vm('u3', 'db1-renamed')]), { listed: 2, gone: 1 });
  await syncHostVms(catalog, 'h2', [{ ...vm('u3', 'db1-renamed'), host: 'h2' }]);
  assert.deepEqual((await listVms(catalog)).map((v) => [v.name, v.host]), [['db1-renamed', 'h2'], ['web1', 'h1']]);
  const gone = (await listVms(catalog, { includeGone: true })).find((v) => v.uuid === 'u2')!;
  assert.equal(gone.goneMs, 61_000);
  assert.deepEqual((await findVms(catalog, 'U3')).map((v) => v.name), ['db1-renamed'], 'a UUID is matched in any case');
});

test('a VM defined on two hosts belongs to the one it runs on; shut off everywhere, to the newest online host that has it', async (t) => {
  const clock = testClock(1000);
  const catalog = await tempCatalog(t, clock);
  await setup(catalog);
  const off = (v: VmInfo): VmInfo => ({ ...v, state: 'shutoff' });
  const hostOf = async (uuid: string) => (await listVms(catalog)).find((v) => v.uuid === uuid)!.host;
  const chosen = async (uuid: string) => chooseHost((await listVmPlacements(catalog, [uuid])).get(uuid) ?? [])?.host;
  // Migrated: running on h2, its old definition left shut off on h1, which keeps reporting it.
  clock.advance(1000);
  await syncHostVms(catalog, 'h2', [vm('u1', 'web1')]);
  clock.advance(1000);
  await syncHostVms(catalog, 'h1', [off(vm('u1', 'web1')), vm('u2', 'web2'), vm('u3', 'db1')]);
  assert.equal(await hostOf('u1'), 'h2', 'the shut-off listing on the old host does not take it back');
  assert.equal((await listVms(catalog)).find((v) => v.uuid === 'u1')!.state, 'running');
  assert.equal(await chosen('u1'), 'h2');
  // h2 goes silent: the VM may still run there, so its shared disks are not read on h1.
  clock.advance(10 * 60_000);
  await syncHostVms(catalog, 'h1', [off(vm('u1', 'web1')), vm('u2', 'web2'), vm('u3', 'db1')]);
  await markLostHosts(catalog, 5 * 60_000);
  assert.equal(await chosen('u1'), 'h2');
  // Shut down on h2 as well: any online host that has it reads it.
  clock.advance(1000);
  await syncHostVms(catalog, 'h2', [off(vm('u1', 'web1'))]);
  clock.advance(10 * 60_000);
  await syncHostVms(catalog, 'h1', [off(vm('u1', 'web1')), vm('u2', 'web2'), vm('u3', 'db1')]);
  await markLostHosts(catalog, 5 * 60_000);
  assert.equal(await chosen('u1'), 'h1', 'h2 is lost; h1 sees the same disks');
  // h2 undefines it: it stays with h1; h1 undefines it too: gone.
  await syncHostVms(catalog, 'h2', []);
  assert.equal(await hostOf('u1'), 'h1');
  assert.deepEqual(await syncHostVms(catalog, 'h1', [vm('u2', 'web2'), vm('u3', 'db1')]), { listed: 2, gone: 1 });
  assert.equal((await listVmPlacements(catalog, ['u1'])).size, 0);
});

test('protection: newest backup and newest good backup per VM, and the RPO verdicts', async (t) => {
  const catalog = await tempCatalog(t);
  await setup(catalog);
  const now = 100 * HOUR;
  await upsertPolicy(catalog, { name: 'webp', spec: { vms: ['web*'], repositories: ['local'], schedule: '@daily', rpo: '26h' } });
  await upsertPolicy(catalog, { name: 'dbp', spec: { vms: ['db*'], repositories: ['local'], schedule: '@daily' }, enabled: false });
  await assignVmPolicies(catalog, new Map([['u1', 'webp'], ['u2', 'webp'], ['u3', 'dbp']]));
  await recordBackups(catalog, [
    backup('local', 'w1-old', 'u1', 'web1', now - 30 * HOUR), backup('local', 'w1-new', 'u1', 'web1', now - 2 * HOUR),
    backup('local', 'w2-old', 'u2', 'web2', now - 30 * HOUR), backup('local', 'w2-new', 'u2', 'web2', now - 1 * HOUR),
  ]);
  await setVerifyState(catalog, 'local', 'w2-new', 'failed'); // damaged: web2's newest good one is 30 h old
  const rows = (await listVmProtection(catalog)).sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(rows.map((r) => [r.name, r.policy, r.rpoMs, r.lastBackupMs, r.lastGoodBackupMs]), [
    ['db1', 'dbp', null, null, null], ['web1', 'webp', 26 * HOUR, now - 2 * HOUR, now - 2 * HOUR], ['web2', 'webp', 26 * HOUR, now - HOUR, now - 30 * HOUR],
  ]);
  const summary = await summarizeProtection(catalog, now);
  assert.deepEqual({ ...summary, missed: summary.missed.map((v) => v.name) }, {
    vms: 3, protectedVms: 2, unprotectedVms: 1, rpoMet: 1, rpoMissed: 1, noRpo: 1, missed: ['web2'],
  });
  // A disabled policy's RPO is still watched. A VM never backed up counts from when it was
  // first seen (the test clock's start): not missed before that plus its RPO, missed after.
  await upsertPolicy(catalog, { name: 'dbp', spec: { vms: ['db*'], repositories: ['local'], schedule: '@daily', rpo: '1h' }, enabled: false });
  const firstSeen = Date.UTC(2026, 0, 1);
  assert.deepEqual((await summarizeProtection(catalog, now)).missed.map((v) => v.name), ['web2']);
  assert.deepEqual((await summarizeProtection(catalog, firstSeen + 2 * HOUR)).missed.map((v) => v.name), ['db1', 'web2', 'web1']);
  assert.equal((await summarizeProtection(catalog, firstSeen + 2 * HOUR)).rpoMissed, 3);
});

test('the per-VM summary follows every change to backups', async (t) => {
  const catalog = await tempCatalog(t);
  await setup(catalog);
  const latest = async (uuid: string) => {
    const row = (await listVmProtection(catalog)).find((r) => r.uuid === uuid)!;
    return [row.lastBackupMs, row.lastGoodBackupMs];
  };
  await recordBackups(catalog, [backup('local', 'a', 'u1', 'web1', 10), backup('local', 'b', 'u1', 'web1', 30), backup('offsite', 'c', 'u1', 'web1', 20)]);
  assert.deepEqual(await latest('u1'), [30, 30]);
  await recordBackups(catalog, [backup('local', 'old', 'u1', 'web1', 5)]);
  assert.deepEqual(await latest('u1'), [30, 30], 'an older backup does not move the newest');
  await setVerifyState(catalog, 'local', 'b', 'failed');
  assert.deepEqual(await latest('u1'), [30, 20]);
  await recordBackups(catalog, [backup('local', 'b', 'u1', 'web1', 30)]);
  assert.deepEqual(await latest('u1'), [30, 20], 're-recording a failed backup keeps it failed');
  await forgetBackups(catalog, 'local', ['b']);
  assert.deepEqual(await latest('u1'), [20, 20]);
  await removeRepository(catalog, 'offsite');
  assert.deepEqual(await latest('u1'), [10, 10]);
  await forgetBackups(catalog, 'local', ['a', 'old']);
  assert.deepEqual(await latest('u1'), [null, null]);
});

test('a VM gone from the inventory is still found by its name through its backups', async (t) => {
  const catalog = await tempCatalog(t);
  await setup(catalog);
  await recordBackups(catalog, [backup('local', 'z1', 'u9', 'retired', 1), backup('local', 'z2', 'u9', 'retired', 2)]);
  assert.deepEqual((await listBackups(catalog, { vm: 'retired' })).items.map((b) => [b.backupId, b.vmUuid]), [['z2', 'u9'], ['z1', 'u9']]);
});
