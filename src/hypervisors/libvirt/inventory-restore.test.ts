// Inventory (names, globs, tags, unknown VMs) and defining a VM from a backed-up domain XML,
// against a real libvirtd.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVmbakError } from '../../core/index.ts';
import { LibvirtHypervisor, checkRestoreInPlace, defineVmFromBackup, getVm, listVms, openBackupSession, rewriteDomainXml } from './index.ts';
import { findVms } from '../../services/index.ts';
import { createTestVm, destroyAllTestVms, destroyTestVm, ensureLibvirt, virshTest } from '../../../test/support/libvirt.ts';
import type { TestVm } from '../../../test/support/libvirt.ts';
import { readAll } from '../../../test/support/libvirt-nbd.ts';

const MiB = 1024 * 1024;
let unavailable: string | null = null;
let vm: TestVm;
let work: string;

describe('libvirt inventory and restore define', { concurrency: false }, () => {
  before(async () => {
    unavailable = await ensureLibvirt();
    if (unavailable) return;
    work = mkdtempSync(join(tmpdir(), 'vmbak-inv-'));
    chmodSync(work, 0o755);
    vm = await createTestVm({ namePrefix: 'vmbak-inv', tags: ['prod', 'db'], disks: [
      { target: 'vda', format: 'qcow2', sizeBytes: 16 * MiB },
      { target: 'vdb', format: 'raw', sizeBytes: 8 * MiB },
    ] });
  });
  after(async () => {
    if (unavailable) return;
    await destroyAllTestVms();
    rmSync(work, { recursive: true, force: true });
  });

  test('listVms and findVms through LibvirtHypervisor: state, disks with sizes, tags, globs, tag:NAME', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const all = await listVms();
    const mine = all.find((v) => v.uuid === vm.uuid);
    assert.ok(mine);
    assert.equal(mine.name, vm.name);
    assert.equal(mine.state, 'paused');
    assert.deepEqual(mine.tags, ['prod', 'db']);
    assert.deepEqual(mine.disks.map((d) => [d.target, d.format, d.sizeBytes, d.path, d.skipReason]), [
      ['vda', 'qcow2', 16 * MiB, vm.disks[0]!.path, null],
      ['vdb', 'raw', 8 * MiB, vm.disks[1]!.path, null],
    ]);
    // The selection service over this adapter's listing: names, globs, tag:NAME.
    const hypervisor = new LibvirtHypervisor();
    assert.deepEqual((await findVms(hypervisor, [vm.name])).map((v) => v.uuid), [vm.uuid]);
    assert.ok((await findVms(hypervisor, ['vmbak-inv-*'])).some((v) => v.uuid === vm.uuid));
    assert.ok((await findVms(hypervisor, ['tag:db'])).some((v) => v.uuid === vm.uuid));
    await assert.rejects(findVms(hypervisor, ['no-such-vm-xyz']), (err) => isVmbakError(err, 'VM_NOT_FOUND') && /no-such-vm-xyz/.test(err.message));
    await assert.rejects(getVm('no-such-vm-xyz'), (err) => isVmbakError(err, 'VM_NOT_FOUND'));
  });

  test('a shut-off VM is read from its image files, without a checkpoint', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const off = await createTestVm({ namePrefix: 'vmbak-off', start: 'defined', disks: [{ target: 'vda', format: 'qcow2', sizeBytes: 4 * MiB }] });
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x42 1M 64k', off.disks[0]!.path]);
    const session = await openBackupSession(off.name, { sinceCheckpoint: 'vmbak-whatever', quiesce: 'auto' });
    try {
      assert.equal(session.checkpointId, null);
      // A checkpoint libvirt does not have cannot be read from the image's bitmaps either.
      assert.equal(session.disks[0]!.fallbackReason, 'checkpoint vmbak-whatever no longer exists in libvirt');
      assert.equal(session.disks[0]!.incrementalFrom, null);
      const data = await readAll(session.disks[0]!.source);
      const expected = Buffer.alloc(4 * MiB);
      expected.fill(0x42, MiB, MiB + 64 * 1024);
      assert.ok(data.equals(expected));
      (await checkRestoreInPlace(off.name)).disks.get('vda');
    } finally {
      await session.finish();
      await off.destroy();
    }
  });

  test('restore in place needs the VM shut off', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    await assert.rejects(checkRestoreInPlace(vm.name), (err) => isVmbakError(err, 'VM_NOT_SHUT_OFF'));
  });

  test('defineVmFromBackup: new name, UUID and MACs, disks on restored qcow2 files; the VM starts', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const session = await openBackupSession(vm.name, { sinceCheckpoint: null, quiesce: 'off', stateDir: join(work, 'runs'), scratchDir: join(work, 'scratch'), scratchReserveBytes: MiB });
    const domainXml = session.domainXml;
    await session.abort();
    const diskPaths = new Map<string, string>();
    for (const d of vm.disks) {
      const path = join(work, `restored-${d.target}.qcow2`);
      execFileSync('qemu-img', ['convert', '-q', '-U', '-O', 'qcow2', d.path, path]); // -U: the source VM is running
      chownSync(path, 64055, 108);
      diskPaths.set(d.target, path);
    }
    const rewritten = rewriteDomainXml(domainXml, { newName: `${vm.name}-restored`, diskPaths, noNetwork: false });
    assert.doesNotMatch(rewritten, /<uuid>/);
    assert.doesNotMatch(rewritten, new RegExp(vm.disks[1]!.path));
    const oldMac = /<mac address='([^']+)'/.exec(domainXml)![1];
    assert.doesNotMatch(rewritten, new RegExp(oldMac!));
    assert.match(rewritten, /<mac address='52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}'\/>/);
    const newName = `${vm.name}-restored`;
    try {
      const uuid = await defineVmFromBackup(domainXml, { newName, diskPaths, noNetwork: true, start: true });
      assert.notEqual(uuid, vm.uuid);
      const restored = await getVm(newName);
      assert.equal(restored.state, 'running');
      assert.deepEqual(restored.disks.map((d) => [d.target, d.format, d.path]), [
        ['vda', 'qcow2', diskPaths.get('vda')], ['vdb', 'qcow2', diskPaths.get('vdb')],
      ]);
      assert.doesNotMatch(await virshTest('dumpxml', newName), /<interface/);
      await assert.rejects(defineVmFromBackup(domainXml, { newName, diskPaths }), (err) => isVmbakError(err, 'VM_EXISTS'));
    } finally {
      await destroyTestVm(newName);
    }
  });
});
