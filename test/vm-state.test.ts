// A VM's boot state comes back with it: a real UEFI (OVMF) VM with a software TPM (swtpm
// through libvirt) is run until its firmware has written its variable store and swtpm has
// manufactured its TPM, then backed up powered off. Restored as a new VM, the NVRAM is a file
// of its own named in the new XML and the TPM state sits under the new UUID; restored in
// place, both go back over changed and removed originals. Every restored file is compared
// byte for byte with the state at the backup, its owner and mode checked, and each restored
// VM must start on that state without swtpm manufacturing a new TPM.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { destroyTestVm, ensureLibvirt, virshTest } from './support/libvirt.ts';
import { isCleanError, jsonLine, qemuImg, spawnVmbak, tempDir, vmbak } from './support/vmbak-cli.ts';
import { createVirshSpy } from './support/virsh-spy.ts';

const MiB = 1024 * 1024;
const QEMU_UID = 64055;
const KVM_GID = 108;
const SWTPM_ROOT = '/var/lib/libvirt/swtpm';
const NVRAM_DIR = '/var/lib/libvirt/qemu/nvram';
const SWTPM_LOG_DIR = '/var/log/swtpm/libvirt/qemu';
const OVMF_TEMPLATE = '/usr/share/OVMF/OVMF_VARS_4M.ms.fd';

interface FileState { data: Buffer; uid: number; gid: number; mode: number }

let unavailable: string | null = null;
const tmp = tempDir('vm-state');
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: join(tmp.dir, 'runs'), VMBAK_SCRATCH_DIR: join(tmp.dir, 'scratch') };
const name = `vmbak-state-${randomBytes(4).toString('hex')}`;
const diskPath = join(tmp.dir, 'vda.qcow2');
const made = new Set<string>();
let uuid = '';
let backupId = '';
let nvramAtBackup: FileState;
let tpmAtBackup: Map<string, FileState>;

/** Unavailable components are a reason to skip here and a failure under CI. */
function missingComponent(): string | null {
  if (spawnSync('which', ['swtpm', 'swtpm_setup']).status !== 0) return 'swtpm is not installed (scripts/install-system-deps.sh)';
  if (!existsSync(OVMF_TEMPLATE) || !existsSync('/usr/share/qemu/firmware/60-edk2-x86_64.json')) return 'OVMF is not installed (scripts/install-system-deps.sh)';
  return null;
}

/** No <loader>, no <nvram>: libvirt picks OVMF itself and names the variable store after the VM. */
function domainXml(): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/><smm state='on'/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${diskPath}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm>
    <interface type='user'><model type='virtio'/></interface>
    <serial type='pty'/>
  </devices>
</domain>
`;
}

function fileState(path: string): FileState {
  const s = statSync(path);
  return { data: readFileSync(path), uid: s.uid, gid: s.gid, mode: s.mode & 0o7777 };
}

function tpmFiles(dir: string): Map<string, FileState> {
  const out = new Map<string, FileState>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), fileState(p));
    }
  };
  walk(dir);
  return out;
}

function assertSameBytes(actual: Map<string, FileState>, expected: Map<string, FileState>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: the same files`);
  for (const [rel, want] of expected) assert.ok(actual.get(rel)!.data.equals(want.data), `${what}: ${rel} byte-identical to the backup`);
}

/** The account libvirt runs swtpm as: qemu.conf's swtpm_user/swtpm_group, else tss, else root. */
function expectedSwtpmOwner(): { uid: number; gid: number } {
  const conf = existsSync('/etc/libvirt/qemu.conf') ? readFileSync('/etc/libvirt/qemu.conf', 'utf8') : '';
  const value = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*"([^"]+)"`, 'm').exec(conf)?.[1] ?? 'tss';
  const id = (db: string, n: string) => {
    const r = spawnSync('getent', [db, n], { encoding: 'utf8' });
    return r.status === 0 ? Number(r.stdout.split(':')[2]) : 0;
  };
  return { uid: id('passwd', value('swtpm_user')), gid: id('group', value('swtpm_group')) };
}

function manufacturings(vmName: string): number {
  const log = join(SWTPM_LOG_DIR, `${vmName}-swtpm.log`);
  return existsSync(log) ? readFileSync(log, 'utf8').split('Starting vTPM manufacturing').length - 1 : 0;
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function powerOff(vmName: string): Promise<void> {
  await virshTest('destroy', vmName);
  // Under load libvirt may report the domain as still stopping for a moment.
  for (let i = 0; i < 100 && !(await virshTest('domstate', vmName)).includes('shut off'); i++) await sleep(100);
}

describe('UEFI NVRAM and TPM state restored with the VM', { concurrency: false }, () => {
  before(async () => {
    unavailable = await ensureLibvirt();
    if (unavailable) return;
    unavailable = missingComponent();
    if (unavailable && process.env.CI === 'true') throw new Error(`VM state test unavailable under CI: ${unavailable}`);
    if (unavailable) return;
    chmodSync(tmp.dir, 0o755);
    mkdirSync(env.VMBAK_SCRATCH_DIR, { mode: 0o755 });
    qemuImg('create', '-q', '-f', 'qcow2', diskPath, String(16 * MiB));
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 1M 64k', diskPath], { stdio: 'ignore' });
    chownSync(diskPath, QEMU_UID, KVM_GID);
    writeFileSync(join(tmp.dir, 'domain.xml'), domainXml());
    await virshTest('define', join(tmp.dir, 'domain.xml'));
    made.add(name);
    uuid = (await virshTest('domuuid', name)).trim();
    await virshTest('start', name);
    // OVMF initialises its variable store on first boot; swtpm_setup ran before QEMU started.
    const nvram = join(NVRAM_DIR, `${name}_VARS.fd`);
    await waitFor('OVMF to write its variable store', () => existsSync(nvram) && !readFileSync(nvram).equals(readFileSync(OVMF_TEMPLATE)));
    await sleep(2000);
    await powerOff(name);
    assert.ok(existsSync(join(SWTPM_ROOT, uuid)), `libvirt made the TPM state dir ${SWTPM_ROOT}/${uuid}`);
    nvramAtBackup = fileState(nvram);
    tpmAtBackup = tpmFiles(join(SWTPM_ROOT, uuid));
    assert.ok([...tpmAtBackup.keys()].includes('tpm2/tpm2-00.permall'), 'swtpm wrote its permanent state');
    assert.equal(manufacturings(name), 1);
    assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
    const r = await vmbak(['backup', '--vm', name, '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    backupId = jsonLine<{ backupId: string }>(r).backupId;
  });
  after(async () => {
    if (!unavailable) for (const vm of made) await destroyTestVm(vm);
    tmp.remove();
  });

  test('--as-vm: NVRAM in a new file named in the new XML, TPM state under the new UUID, byte-identical; the VM starts on it', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const copy = `${name}-copy`;
    const poolDir = join(tmp.dir, 'pool');
    made.add(copy);
    const r = await vmbak(['restore', backupId, '--as-vm', copy, '--pool-dir', poolDir, '--no-network', '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = jsonLine<{ uuid: string; nvram: string; tpmState: string }>(r);
    const copyUuid = (await virshTest('domuuid', copy)).trim();
    assert.equal(out.uuid, copyUuid);
    assert.notEqual(copyUuid, uuid);
    const nvramPath = join(poolDir, `${copy}_VARS.fd`);
    assert.equal(out.nvram, nvramPath);
    assert.match(await virshTest('dumpxml', '--inactive', copy), new RegExp(`<nvram>${nvramPath}</nvram>`));
    const nvram = fileState(nvramPath);
    assert.ok(nvram.data.equals(nvramAtBackup.data), 'NVRAM byte-identical to the backup');
    assert.equal(nvram.mode, 0o600);
    const dir = join(SWTPM_ROOT, copyUuid);
    assert.equal(out.tpmState, dir);
    const restored = tpmFiles(dir);
    assertSameBytes(restored, tpmAtBackup, 'TPM state of the new VM');
    const owner = expectedSwtpmOwner();
    for (const [rel, f] of restored) {
      assert.deepEqual([f.uid, f.gid, f.mode], [owner.uid, owner.gid, 0o600], `${rel}: swtpm's account, private`);
    }
    const tpm2 = statSync(join(dir, 'tpm2'));
    assert.deepEqual([tpm2.uid, tpm2.gid, tpm2.mode & 0o7777], [owner.uid, owner.gid, 0o700]);
    assert.equal(statSync(dir).mode & 0o7777, 0o711);
    assert.deepEqual(readdirSync(SWTPM_ROOT).filter((n) => n.startsWith('.vmbak')), [], 'no staging dirs left');

    await virshTest('start', copy);
    assert.equal((await virshTest('domstate', copy)).trim(), 'running');
    assert.match(await virshTest('dumpxml', copy), new RegExp(`<nvram[^>]*>${nvramPath}</nvram>`));
    assert.equal(manufacturings(copy), 0, 'swtpm used the restored TPM, it did not manufacture a new one');
    await powerOff(copy);
  });

  test('restore --to DIR writes domain.xml, nvram/ and tpm/ beside the disks, byte-identical and private', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const out = join(tmp.dir, 'files');
    const r = await vmbak(['restore', backupId, '--to', out, '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(join(out, 'domain.xml'), 'utf8'), new RegExp(`<uuid>${uuid}</uuid>`));
    const nvram = fileState(join(out, 'nvram', `${name}_VARS.fd`));
    assert.ok(nvram.data.equals(nvramAtBackup.data), 'NVRAM byte-identical');
    assert.equal(nvram.mode, 0o600);
    const restored = tpmFiles(join(out, 'tpm'));
    assertSameBytes(restored, tpmAtBackup, 'TPM state files');
    for (const [rel, f] of restored) assert.equal(f.mode, 0o600, `${rel} is readable by its owner only`);
    assert.equal(statSync(join(out, 'tpm')).mode & 0o777, 0o700);
    rmSync(out, { recursive: true, force: true });
  });

  test('--as-vm --start that fails leaves nothing: no VM, disks, NVRAM or TPM state', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const bad = `${name}-bad`;
    // QEMU runs as its own user and cannot reach images in a private root-owned directory.
    const poolDir = join(tmp.dir, 'pool-private');
    mkdirSync(poolDir, { mode: 0o700 });
    made.add(bad);
    const swtpmBefore = readdirSync(SWTPM_ROOT).sort();
    const r = await vmbak(['restore', backupId, '--as-vm', bad, '--pool-dir', poolDir, '--start', '--no-progress'], env);
    assert.ok(isCleanError(r), r.stderr);
    assert.match(r.stderr, /libvirt start failed/);
    await assert.rejects(virshTest('domuuid', bad), 'the VM is not defined');
    assert.deepEqual(readdirSync(poolDir), [], 'no disks or NVRAM left');
    assert.deepEqual(readdirSync(SWTPM_ROOT).sort(), swtpmBefore, 'no TPM state left');
    const slash = await vmbak(['restore', backupId, '--as-vm', 'a/b', '--no-progress'], env);
    assert.ok(isCleanError(slash) && slash.code === 2, slash.stderr);
  });

  test('--in-place: NVRAM and TPM state put back over changed and removed originals, owners kept; the VM starts on them', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const nvramPath = join(NVRAM_DIR, `${name}_VARS.fd`);
    const dir = join(SWTPM_ROOT, uuid);
    writeFileSync(nvramPath, Buffer.alloc(nvramAtBackup.data.length, 0xee));
    rmSync(join(dir, 'tpm2', 'tpm2-00.permall'));
    writeFileSync(join(dir, 'tpm2', 'stray-file'), 'not in the backup');
    const r = await vmbak(['restore', backupId, '--in-place', '--yes', '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    const paths = jsonLine<{ paths: string[] }>(r).paths;
    assert.ok(paths.includes(nvramPath) && paths.includes(dir), paths.join(', '));
    const nvram = fileState(nvramPath);
    assert.ok(nvram.data.equals(nvramAtBackup.data), 'NVRAM byte-identical to the backup');
    assert.deepEqual([nvram.uid, nvram.gid, nvram.mode], [nvramAtBackup.uid, nvramAtBackup.gid, nvramAtBackup.mode], 'NVRAM keeps the owner and mode libvirt gave it');
    const restored = tpmFiles(dir);
    assertSameBytes(restored, tpmAtBackup, 'TPM state in place');
    for (const [rel, f] of restored) {
      const was = tpmAtBackup.get(rel)!;
      assert.deepEqual([f.uid, f.gid], [was.uid, was.gid], `${rel} keeps the owner libvirt gave the state`);
    }
    assert.deepEqual(readdirSync(SWTPM_ROOT).filter((n) => n.startsWith('.vmbak')), [], 'no staging or old dirs left');
    assert.deepEqual(readdirSync(NVRAM_DIR).filter((n) => n.includes('.vmbak-tmp')), []);
    await virshTest('start', name);
    assert.equal((await virshTest('domstate', name)).trim(), 'running');
    assert.equal(manufacturings(name), 1, 'swtpm used the restored TPM, it did not manufacture a new one');
  });

  test('a hot backup of the running VM carries its live NVRAM and TPM state: restored --as-vm --start, it boots on them', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    assert.equal((await virshTest('domstate', name)).trim(), 'running');
    const b = await vmbak(['backup', '--vm', name, '--json', '--no-progress'], env);
    assert.equal(b.code, 0, b.stderr);
    const hotId = jsonLine<{ backupId: string }>(b).backupId;
    const copy = `${name}-hot`;
    const poolDir = join(tmp.dir, 'pool-hot');
    made.add(copy);
    const r = await vmbak(['restore', hotId, '--as-vm', copy, '--pool-dir', poolDir, '--no-network', '--start', '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    const out = jsonLine<{ uuid: string; nvram: string | null; tpmState: string | null }>(r);
    assert.equal(out.nvram, join(poolDir, `${copy}_VARS.fd`));
    assert.equal(out.tpmState, join(SWTPM_ROOT, out.uuid));
    assert.equal((await virshTest('domstate', copy)).trim(), 'running');
    assert.deepEqual([...tpmFiles(out.tpmState!).keys()].sort(), [...tpmAtBackup.keys()].sort());
    assert.equal(manufacturings(copy), 0, 'swtpm used the restored TPM, it did not manufacture a new one');
  });

  test('a hot backup reads NVRAM at its instant: a change made just before backup-begin is in the backup', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    // backup-begin is held by the virsh wrapper; meanwhile the variable store on disk changes.
    // State read when the session opens would miss that change; read at the instant, it is in.
    const spy = createVirshSpy(join(tmp.dir, 'spy'));
    const nvram = join(NVRAM_DIR, `${name}_VARS.fd`);
    const marker = randomBytes(16);
    const original = readFileSync(nvram);
    spy.hold();
    const child = spawnVmbak(['backup', '--vm', name, '--json', '--no-progress'], { ...env, PATH: `${spy.binDir}:${process.env.PATH}` });
    const done = new Promise<number | null>((r) => child.once('close', r));
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d; });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d; });
    try {
      await spy.waitHeld();
      const changed = Buffer.from(original);
      marker.copy(changed, changed.length - marker.length);
      writeFileSync(nvram, changed);
      spy.release();
      assert.equal(await done, 0, stderr);
    } finally {
      spy.release();
      writeFileSync(nvram, original);
    }
    const id = (JSON.parse(stdout.trim().split('\n').pop()!) as { backupId: string }).backupId;
    const out = join(tmp.dir, 'instant');
    const r = await vmbak(['restore', id, '--to', out, '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    const saved = readdirSync(join(out, 'nvram')).map((f) => readFileSync(join(out, 'nvram', f)));
    assert.equal(saved.length, 1);
    assert.ok(saved[0]!.subarray(-marker.length).equals(marker), 'the NVRAM in the backup is the one at backup-begin');
  });
});
