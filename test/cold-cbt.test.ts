// Changed-block tracking for shut-off VMs, with a real libvirt VM: backed up while it runs
// (a checkpoint: persistent dirty bitmaps in its qcow2), written to, then stopped cleanly —
// the next backup reads only what changed, through qemu-nbd with the checkpoint's bitmap,
// restores byte-identical, and keeps the chain for the next backup. A VM whose QEMU was
// killed (its bitmap left in-use) is read in full, and the report says why.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { createTestVm, destroyAllTestVms, ensureLibvirt, hmpWrite, virshTest, type TestVm } from './support/libvirt.ts';
import { vmbak, tempDir, qemuImg, jsonLine } from './support/vmbak-cli.ts';
import { waitFor } from './support/processes.ts';

const tmp = tempDir('cold-cbt');
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: join(tmp.dir, 'runs'), VMBAK_SCRATCH_DIR: join(tmp.dir, 'scratch') };
const SIZE = 64 << 20;
let vm: TestVm;
let unavailable: string | null = null;

before(async () => {
  unavailable = await ensureLibvirt();
  if (unavailable) return;
  vm = await createTestVm({ namePrefix: 'vmbak-cold', disks: [{ target: 'vda', format: 'qcow2', sizeBytes: SIZE }] });
  // QEMU (another account) opens the backup's scratch file there.
  mkdirSync(env.VMBAK_SCRATCH_DIR);
  chmodSync(tmp.dir, 0o755);
  chmodSync(env.VMBAK_SCRATCH_DIR, 0o755);
}, { timeout: 120_000 });

after(async () => {
  await destroyAllTestVms();
  tmp.remove();
}, { timeout: 60_000 });

type DiskJson = { name: string; bytesRead: number; incremental: boolean; fallbackReason: string | null };
type BackupJson = { backupId: string; incremental: boolean; disks: DiskJson[] };

async function backup(): Promise<{ json: BackupJson; vda: DiskJson }> {
  const r = await vmbak(['backup', '--vm', vm.name, '--json', '--no-progress'], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const json = jsonLine<BackupJson>(r);
  return { json, vda: json.disks.find((d) => d.name === 'vda')! };
}

/** QEMU exits through its monitor: a clean close, which stores the bitmaps consistent. */
async function stopCleanly(): Promise<void> {
  await virshTest('qemu-monitor-command', vm.name, '--hmp', 'quit').catch(() => '');
  await waitFor('the VM to be shut off', async () => (await virshTest('domstate', vm.name)).trim() === 'shut off', 30_000);
}

test('a shut-off VM is backed up from its dirty bitmap; an uncleanly stopped one is read whole', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  await hmpWrite(vm.name, 'vda', 0, 8 << 20, 0x11);
  const first = await backup();
  assert.equal(first.vda.incremental, false);

  await hmpWrite(vm.name, 'vda', 16 << 20, 1 << 20, 0x22);
  await stopCleanly();
  const cold = await backup();
  assert.equal(cold.vda.incremental, true, `${cold.vda.fallbackReason}`);
  assert.equal(cold.vda.fallbackReason, null);
  assert.ok(cold.vda.bytesRead <= 2 << 20, `read ${cold.vda.bytesRead} bytes for 1 MiB written`);

  // Byte-identical with the image as it is now.
  const restored = join(tmp.dir, 'restored');
  const r = await vmbak(['restore', `${cold.json.backupId}`, '--to', restored, '--verify', '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  qemuImg('convert', '-U', '-f', 'qcow2', '-O', 'raw', vm.disks[0]!.path, join(tmp.dir, 'now.raw'));
  assert.ok(readFileSync(join(restored, 'vda.raw')).equals(readFileSync(join(tmp.dir, 'now.raw'))), 'the restored disk equals the image');

  // The chain goes on: running again, the next backup is incremental from the same checkpoint.
  await virshTest('start', vm.name, '--paused');
  await hmpWrite(vm.name, 'vda', 32 << 20, 1 << 20, 0x33);
  const hot = await backup();
  assert.equal(hot.vda.incremental, true, `${hot.vda.fallbackReason}`);
  assert.ok(hot.vda.bytesRead <= 3 << 20, `read ${hot.vda.bytesRead}`);

  // QEMU killed instead of stopped (virsh destroy would send SIGTERM, on which QEMU closes
  // cleanly): the bitmap stays marked in-use, its last changes unsaved, and is not trusted.
  await hmpWrite(vm.name, 'vda', 40 << 20, 1 << 20, 0x44);
  process.kill(Number(readFileSync(`/run/libvirt/qemu/${vm.name}.pid`, 'utf8').trim()), 'SIGKILL');
  await waitFor('the VM to be shut off', async () => (await virshTest('domstate', vm.name)).trim() === 'shut off', 30_000);
  const crashed = await backup();
  assert.equal(crashed.vda.incremental, false);
  assert.match(crashed.vda.fallbackReason ?? '', /inconsistent|no dirty bitmap/);
});
