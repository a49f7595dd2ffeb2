// Instant recovery with a real guest (Debian kernel + busybox + qemu-ga under TCG): a powered-off
// VM whose second disk holds ~4 GiB of random data the guest never reads is backed up, then run
// straight from the backup. The guest agent answers while the bytes read from the repository's
// packs stay far below the disks' size; guest writes land in the local overlay. kill -9 of the
// serving process pauses the VM on its next read of the backup (never an error in the guest),
// `instant resume` brings it back, `instant migrate` moves it to local storage while it runs
// (no disk references the export any more), and `instant stop` leaves nothing behind.
// Under CI=true a missing libvirt or guest fails the test instead of skipping it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureLibvirt, virshTest, destroyTestVm } from './support/libvirt.ts';
import { agentCommand, buildTestGuest, guestDomainXml, guestWriteCounter, readGuestFile, waitForAgent, type GuestImages } from './support/guest.ts';
import type { AlertEvent } from '../src/alerts/index.ts';
import { checkInstantVms } from '../src/controller/index.ts';
import { connectHypervisor } from '../src/services/index.ts';
import { isCleanError, jsonLine, lockHeldBy, tempDir, vmbak, waitUntil } from './support/vmbak-cli.ts';

const MiB = 1024 * 1024;
/** Random bytes on the second disk; VMBAK_TEST_INSTANT_RANDOM_MIB makes it smaller while iterating on the test. */
const RANDOM_MIB = Number(process.env.VMBAK_TEST_INSTANT_RANDOM_MIB ?? 4096);
const QEMU_UID = 64055;
const KVM_GID = 108;

const tmp = tempDir('instant');
const stateDir = join(tmp.dir, 'runs');
const poolDir = join(tmp.dir, 'pool');
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: stateDir, VMBAK_SCRATCH_DIR: join(tmp.dir, 'scratch') };
const suffix = randomBytes(3).toString('hex');
const vmName = `vmbak-ir-${suffix}`;
const vm2Name = `vmbak-ir2-${suffix}`;
let unavailable: string | null = null;
let backupId = '';
let diskBytes = 0;
let failed = false;
const timings: Record<string, number> = {};

interface LsRow { vm: string; vmState: string; serverPid: number | null; exportState: string; packBytesRead: number; socket: string; overlays: string[]; alert: string | null }

async function instantLs(): Promise<LsRow[]> {
  const r = await vmbak(['instant', 'ls', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as LsRow);
}

async function lsRow(name: string): Promise<LsRow> {
  const row = (await instantLs()).find((r) => r.vm === name);
  assert.ok(row, `instant ls lists ${name}`);
  return row;
}

/** Allocated bytes of a file on the host (what the overlay really holds). */
function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

async function domState(name: string): Promise<string> {
  return (await virshTest('domstate', name, '--reason').catch(() => 'missing')).trim();
}

/** Runs a command in the guest through the agent; resolves with its exit code once it ends. */
async function guestExec(name: string, path: string, args: string[], timeoutMs = 60_000): Promise<{ exitcode: number; err: string }> {
  const { pid } = await agentCommand<{ pid: number }>(name, 'guest-exec', { path, arg: args, 'capture-output': true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // While the VM is paused its agent cannot answer: ask again until it can.
    const s = await agentCommand<{ exited: boolean; exitcode?: number; 'err-data'?: string }>(name, 'guest-exec-status', { pid }).catch(() => ({ exited: false }) as const);
    if (s.exited) return { exitcode: s.exitcode ?? -1, err: Buffer.from(s['err-data'] ?? '', 'base64').toString() };
    if (Date.now() > deadline) throw new Error(`guest command ${path} ${args.join(' ')} did not end within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** Running, not a zombie (a killed detached process may stay unreaped for a while). */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** The source VM's disks: vda ext4 (the guest's root), vdb random data the guest never reads. */
function makeSourceVm(images: GuestImages): string {
  const dir = join(tmp.dir, 'source');
  mkdirSync(dir);
  const vda = join(dir, 'vda.qcow2');
  const raw = join(dir, 'vda.raw');
  execFileSync('truncate', ['-s', String(64 * MiB), raw]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'vmbak-guest', '-E', 'lazy_itable_init=0,lazy_journal_init=0', raw]);
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, vda]);
  const vdb = join(dir, 'vdb.raw');
  // Real random data (it cannot be deduplicated or compressed away), fast: AES-CTR of zeros.
  execFileSync('bash', ['-c', `openssl enc -aes-128-ctr -nosalt -pass pass:${suffix} -in /dev/zero 2>/dev/null | head -c ${RANDOM_MIB * MiB} > ${vdb}`]);
  diskBytes = statSync(vdb).size + 64 * MiB;
  const xml = guestDomainXml(`vmbak-irsrc-${suffix}`, images, vda, join(tmp.dir, 'console.log'), 192)
    .replace('</disk>', `</disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${vdb}'/>
      <target dev='vdb' bus='virtio'/>
    </disk>`);
  const xmlPath = join(dir, 'domain.xml');
  writeFileSync(xmlPath, xml);
  return xmlPath;
}

before(async () => {
  unavailable = await ensureLibvirt();
  if (unavailable) return;
  const images = await buildTestGuest();
  if (typeof images === 'string') { unavailable = images; return; }
  // QEMU runs as libvirt-qemu: it writes the console log here and reads the overlays' folder.
  chmodSync(tmp.dir, 0o755);
  mkdirSync(stateDir);
  writeFileSync(join(tmp.dir, 'console.log'), '');
  chownSync(join(tmp.dir, 'console.log'), QEMU_UID, KVM_GID);
  let t = Date.now();
  const xmlPath = makeSourceVm(images);
  timings.makeRandomDiskMs = Date.now() - t;
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  t = Date.now();
  const b = await vmbak(['backup', '--domain-xml', xmlPath, '--json', '--no-progress'], env);
  assert.equal(b.code, 0, b.stderr);
  backupId = jsonLine<{ backupId: string }>(b).backupId;
  timings.backupMs = Date.now() - t;
});

after(async () => {
  if (failed && existsSync(join(tmp.dir, 'console.log'))) {
    process.stderr.write(`--- guest console ---\n${execFileSync('tail', ['-n', '40', join(tmp.dir, 'console.log')], { encoding: 'utf8' })}\n`);
  }
  for (const name of [vmName, vm2Name]) {
    const log = join(stateDir, 'instant', name, 'serve.log');
    if (failed && existsSync(log)) process.stderr.write(`--- ${log} ---\n${readFileSync(log, 'utf8')}\n`);
    if (existsSync(join(stateDir, 'instant', `${name}.json`))) await vmbak(['instant', 'stop', name], env);
    await destroyTestVm(name);
  }
  process.stderr.write(`instant-recovery timings: ${JSON.stringify(timings)}\n`);
  tmp.remove();
});

test('a VM runs from its backup at once, pauses when its export dies, resumes, and migrates to local storage', async (t) => {
  if (unavailable) { t.diagnostic(`libvirt unavailable: ${unavailable}`); return; }
  try {
    let at = Date.now();
    const r = await vmbak(['restore', backupId, '--instant', '--as-vm', vmName, '--pool-dir', poolDir, '--no-network', '--start', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const made = jsonLine<{ uuid: string; socket: string; overlays: string[]; instant: boolean }>(r);
    timings.restoreCommandMs = Date.now() - at;
    await waitForAgent(vmName, 120_000);
    timings.timeToAgentMs = Date.now() - at;

    // The guest booted and answers while almost nothing of the backup was read.
    let row = await lsRow(vmName);
    assert.ok(row.serverPid && processAlive(row.serverPid), 'the export runs in a process of its own');
    assert.match(row.vmState, /^running/);
    const readAtBoot = row.packBytesRead;
    timings.packBytesReadAtBoot = readAtBoot;
    assert.ok(readAtBoot > 0, 'the boot read the backup through the export');
    // At most the root disk (64 MiB) plus read-ahead, however large the VM: not the random data.
    assert.ok(readAtBoot < 96 * MiB && readAtBoot < diskBytes / 20, `read ${readAtBoot} bytes from packs for a ${diskBytes}-byte VM`);
    const [vdaOverlay, vdbOverlay] = made.overlays;
    assert.ok(allocatedBytes(vdbOverlay!) < 4 * MiB, 'the untouched disk\'s overlay stays empty');
    timings.overlayBytesAtBoot = allocatedBytes(vdaOverlay!) + allocatedBytes(vdbOverlay!);
    assert.ok(timings.overlayBytesAtBoot < 32 * MiB, `the overlays hold ${timings.overlayBytesAtBoot} bytes after the boot`);

    // Guest writes land in the overlay, not in the (read-only) backup.
    const before = allocatedBytes(vdaOverlay!);
    const marker = `instant ${randomBytes(8).toString('hex')}`;
    const h = await agentCommand<number>(vmName, 'guest-file-open', { path: '/mnt/marker', mode: 'w' });
    await agentCommand(vmName, 'guest-file-write', { handle: h, 'buf-b64': Buffer.from(marker).toString('base64') });
    await agentCommand(vmName, 'guest-file-close', { handle: h });
    assert.equal((await guestExec(vmName, '/bin/sync', [])).exitcode, 0);
    const counter = await guestWriteCounter(vmName);
    await waitUntil('the guest\'s writes in the overlay', () => allocatedBytes(vdaOverlay!) > before, 30_000, 250);
    assert.equal(execFileSync('qemu-img', ['info', '-U', '--output=json', vdaOverlay!], { encoding: 'utf8' }).includes('"backing-filename"'), true);

    // kill -9 of the export: the next read of the backup pauses the VM instead of failing in the guest.
    const oldPid = row.serverPid!;
    process.kill(oldPid, 'SIGKILL');
    at = Date.now();
    const reader = guestExec(vmName, '/bin/dd', ['if=/dev/vdb', 'of=/dev/null', 'bs=1M', 'count=16', `skip=${Math.floor(RANDOM_MIB / 2)}`, 'iflag=direct'], 120_000);
    reader.catch(() => undefined);
    for (;;) {
      const s = await domState(vmName);
      if (s.startsWith('paused')) { assert.match(s, /I\/O error/); break; }
      assert.ok(Date.now() - at < 30_000, `the VM is ${s} 30 s after its export was killed`);
      await sleep(250);
    }
    timings.pauseAfterKillMs = Date.now() - at;
    row = await lsRow(vmName);
    assert.equal(row.serverPid, null);
    assert.equal(row.exportState, 'down');

    at = Date.now();
    const resumed = await vmbak(['instant', 'resume', vmName], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /export restarted; VM .* resumed/);
    timings.resumeMs = Date.now() - at;
    const done = await reader;
    assert.equal(done.exitcode, 0, `the guest's read failed instead of waiting: ${done.err}`);
    await waitForAgent(vmName, 30_000);
    assert.ok(await guestWriteCounter(vmName) > counter, 'the guest writes on after the resume');
    row = await lsRow(vmName);
    assert.ok(row.serverPid && row.serverPid !== oldPid && processAlive(row.serverPid));

    // Migrate: everything copied into the overlays while the guest runs, then the export stops.
    at = Date.now();
    const m = await vmbak(['instant', 'migrate', vmName], env);
    assert.equal(m.code, 0, m.stderr);
    assert.match(m.stderr, /disk vdb 100 %/);
    timings.migrateMs = Date.now() - at;
    assert.equal(processAlive(row.serverPid), false, 'the export process ended');
    assert.equal(existsSync(row.socket), false);
    assert.deepEqual(await instantLs(), []);
    assert.match(await domState(vmName), /^running/);
    await waitForAgent(vmName, 30_000);
    assert.equal(await readGuestFile(vmName, '/mnt/marker'), marker);
    for (const xml of [await virshTest('dumpxml', vmName), await virshTest('dumpxml', '--inactive', vmName)]) {
      assert.doesNotMatch(xml, /protocol='nbd'|nbd\.sock/);
    }
    for (const overlay of made.overlays) {
      const chain = execFileSync('qemu-img', ['info', '-U', '--backing-chain', overlay], { encoding: 'utf8' });
      assert.doesNotMatch(chain, /backing file|nbd/i, chain);
    }
    assert.ok(allocatedBytes(vdbOverlay!) >= RANDOM_MIB * MiB * 0.99, 'the random data was copied into the local overlay');
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    await destroyTestVm(vmName);
  }
});

test('instant stop leaves nothing behind: no domain, overlay, socket, process or record', async (t) => {
  if (unavailable) { t.diagnostic(`libvirt unavailable: ${unavailable}`); return; }
  const pool2 = join(tmp.dir, 'pool2');
  const r = await vmbak(['restore', backupId, '--instant', '--as-vm', vm2Name, '--pool-dir', pool2, '--no-network', '--start', '--json'], env);
  assert.equal(r.code, 0, r.stderr);
  const made = jsonLine<{ socket: string; overlays: string[] }>(r);
  const row = await lsRow(vm2Name);
  assert.ok(row.serverPid && processAlive(row.serverPid));
  assert.ok(made.overlays.every((o) => existsSync(o)));

  const again = await vmbak(['restore', backupId, '--instant', '--as-vm', vm2Name, '--pool-dir', pool2], env);
  assert.ok(isCleanError(again), again.stderr);

  const s = await vmbak(['instant', 'stop', vm2Name], env);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(await domState(vm2Name), 'missing');
  assert.equal(processAlive(row.serverPid), false);
  assert.equal(existsSync(made.socket), false);
  for (const o of made.overlays) assert.equal(existsSync(o), false);
  assert.equal(existsSync(pool2), false, 'the pool directory the restore made is gone');
  assert.deepEqual(readdirSync(join(stateDir, 'instant')).filter((f) => f.startsWith(vm2Name)), []);

  for (const args of [['instant', 'stop', vm2Name], ['instant', 'migrate', vm2Name], ['instant', 'resume', vm2Name]]) {
    const unknown = await vmbak(args, env);
    assert.ok(isCleanError(unknown), unknown.stderr);
    assert.match(unknown.stderr, /no instant-recovery VM/);
  }
  // A state directory QEMU cannot pass through: one clear line, nothing left behind.
  const privateDir = join(tmp.dir, 'private');
  mkdirSync(privateDir, { mode: 0o700 });
  const hidden = await vmbak(['restore', backupId, '--instant', '--as-vm', vm2Name, '--pool-dir', pool2], { ...env, VMBAK_STATE_DIR: join(privateDir, 'runs') });
  assert.ok(isCleanError(hidden), hidden.stderr);
  assert.match(hidden.stderr, /cannot reach the export socket/);
  assert.deepEqual(readdirSync(join(privateDir, 'runs', 'instant')), []);
  assert.equal(existsSync(pool2), false);
  assert.equal(await domState(vm2Name), 'missing');

  for (const args of [['--migrate', '--as-vm', vm2Name], ['--instant', '--to', pool2], ['--instant', '--as-vm', vm2Name, '--verify']]) {
    const bad = await vmbak(['restore', backupId, ...args], env);
    assert.ok(isCleanError(bad), bad.stderr);
    assert.equal(bad.code, 2, `${args.join(' ')}: a usage error`);
  }
});

test('a lost repository lease pauses the VM with an alert; resume brings it back; the sweep removes what a vanished VM left', async (t) => {
  if (unavailable) { t.diagnostic(`libvirt unavailable: ${unavailable}`); return; }
  const vm3Name = `vmbak-ir3-${suffix}`;
  // A short stale window makes the lease refresh often, so its loss is noticed within seconds.
  const leaseEnv = { ...env, VMBAK_LOCK_STALE_MS: '2000' };
  const pool3 = join(tmp.dir, 'pool3');
  try {
    const r = await vmbak(['restore', backupId, '--instant', '--as-vm', vm3Name, '--pool-dir', pool3, '--no-network', '--start', '--json'], leaseEnv);
    assert.equal(r.code, 0, r.stderr);
    const made = jsonLine<{ socket: string; overlays: string[] }>(r);
    const first = await lsRow(vm3Name);
    // What gc does to a lock it judges dead: remove it. The serving process finds out on its next refresh.
    const lock = await lockHeldBy(env.VMBAK_REPO, first.serverPid!);
    rmSync(lock);
    const alerted = await waitUntilAsync('the lease loss noticed', async () => {
      const row = await lsRow(vm3Name);
      return row.alert && row.serverPid === null ? row : null;
    }, 60_000);
    assert.match(alerted.alert!, /lease lost/);
    assert.match(await domState(vm3Name), /^paused/);
    // The controller of this host turns it into an alert (routed to mail/webhook channels by its rules).
    const events: AlertEvent[] = [];
    assert.equal(await checkInstantVms(connectHypervisor({ stateDir }), stateDir, { notify: (e) => { events.push(e); } }, Date.now()), 1);
    assert.equal(events[0]!.kind, 'instant.paused');
    assert.match(events[0]!.message, new RegExp(`${vm3Name}.*lease lost`));

    const resumed = await vmbak(['instant', 'resume', vm3Name], leaseEnv);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(await domState(vm3Name), /^running/);
    const again = await lsRow(vm3Name);
    assert.equal(again.alert, null);
    assert.ok(again.serverPid && processAlive(again.serverPid));

    // The VM removed behind vmbak's back: the next backup run's sweep stops the export and removes the overlays.
    await destroyTestVm(vm3Name);
    const b = await vmbak(['backup', '--vm', vm3Name, '--no-progress'], env);
    assert.notEqual(b.code, 0, 'the VM is gone, so the backup itself fails');
    assert.match(b.stdout + b.stderr, new RegExp(`instant-recovery VM ${vm3Name}: VM gone`));
    assert.equal(processAlive(again.serverPid), false);
    assert.equal(existsSync(made.socket), false);
    for (const o of made.overlays) assert.equal(existsSync(o), false);
    assert.deepEqual(readdirSync(join(stateDir, 'instant')).filter((f) => f.startsWith(vm3Name)), []);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    if (existsSync(join(stateDir, 'instant', `${vm3Name}.json`))) await vmbak(['instant', 'stop', vm3Name], env);
    await destroyTestVm(vm3Name);
  }
});

async function waitUntilAsync<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}
