// Hot backups through the real `vmbak` command of a running TCG VM with a qcow2 disk (changed-
// block incrementals) and a raw disk (hash-delta fallback, said so): bytes read follow the
// bytes written, a paused backup holds its point in time while the guest writes, a checkpoint
// deleted by hand forces a full read, kill -9 mid-backup is swept by the next start, abort and
// an over-long pause leave nothing behind, --quiesce require without an agent fails cleanly,
// and restore --as-vm defines a VM that starts. Every restore is compared byte for byte with
// a model of the disks at the backup instant.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { applyWrite, createTestVm, destroyAllTestVms, destroyTestVm, ensureLibvirt, hmpWrite, virshTest, type TestVm } from './support/libvirt.ts';
import { isCleanError, jsonLine, qemuImg, spawnVmbak, tempDir, vmbak, type CliResult } from './support/vmbak-cli.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNK_BYTES = 64 * KiB;

type Target = 'vda' | 'vdb';
interface DiskJson { name: string; bytesRead: number; bytesNew: number; bytesChanged: number | null; incremental: boolean; fallbackReason: string | null }
interface BackupJson { backupId: string; incremental: boolean; consistency: string; warnings: string[]; disks: DiskJson[] }

let unavailable: string | null = null;
let vm: TestVm;
const tmp = tempDir('hot');
const scratchDir = join(tmp.dir, 'scratch');
const stateDir = join(tmp.dir, 'runs');
const env = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: stateDir, VMBAK_SCRATCH_DIR: scratchDir };
const model: Record<Target, Buffer> = { vda: Buffer.alloc(64 * MiB), vdb: Buffer.alloc(16 * MiB) };
const recorded: { backupId: string; vda: Buffer; vdb: Buffer }[] = [];

async function write(target: Target, offsetBytes: number, lengthBytes: number, pattern: number, updateModel = true): Promise<void> {
  await hmpWrite(vm.name, target, offsetBytes, lengthBytes, pattern);
  if (updateModel) applyWrite(model[target], offsetBytes, lengthBytes, pattern);
}

const disk = (b: BackupJson, name: Target): DiskJson => b.disks.find((d) => d.name === name)!;
const checkpoints = async (): Promise<string[]> => (await virshTest('checkpoint-list', vm.name, '--name')).split('\n').map((l) => l.trim()).filter(Boolean);
const hasBackupJob = (): Promise<boolean> => virshTest('backup-dumpxml', vm.name).then(() => true, () => false);
const runRecords = (): string[] => (existsSync(stateDir) ? readdirSync(stateDir).filter((n) => n.endsWith('.json')) : []);
const children = new Set<ChildProcess>();
const jobRecords = (): { jobId: string; pid: number; state: string; bytesRead: number }[] => {
  const dir = join(stateDir, 'jobs');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.json')).map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8'))) : [];
};

async function waitFor<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 20_000, stepMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

async function backupOk(extra: string[] = []): Promise<BackupJson> {
  const r = await vmbak(['backup', '--vm', vm.name, '--json', '--no-progress', ...extra], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return record(jsonLine<BackupJson>(r));
}

function record(b: BackupJson): BackupJson {
  recorded.push({ backupId: b.backupId, vda: Buffer.from(model.vda), vdb: Buffer.from(model.vdb) });
  return b;
}

async function assertRestores(backupId: string, expected: { vda: Buffer; vdb: Buffer }): Promise<void> {
  const out = join(tmp.dir, `restore-${backupId}-${Date.now()}`);
  const r = await vmbak(['restore', backupId, '--to', out, '--no-progress'], env);
  assert.equal(r.code, 0, r.stderr);
  for (const t of ['vda', 'vdb'] as const) {
    assert.ok(readFileSync(join(out, `${t}.raw`)).equals(expected[t]), `${t} of ${backupId} equals the disk at the backup instant`);
  }
  rmSync(out, { recursive: true, force: true });
}

/** Nothing of a run is left on the hypervisor or in the state dir. */
async function assertNothingLeft(expectedCheckpoints: string[]): Promise<void> {
  assert.deepEqual(await checkpoints(), expectedCheckpoints);
  assert.equal(await hasBackupJob(), false, 'no backup job left');
  assert.deepEqual(readdirSync(scratchDir), [], 'no scratch files left');
  assert.deepEqual(runRecords(), [], 'no run records left');
  assert.deepEqual(jobRecords(), [], 'no job records left');
}

/** Starts a backup and pauses it with SIGUSR1 before it reads (after its run record exists), waiting until libvirt's job is up. */
async function startPausedBackup(extra: string[] = []): Promise<{ child: ChildProcess; result: Promise<CliResult>; jobId: string }> {
  const child = spawnVmbak(['backup', '--vm', vm.name, '--json', '--no-progress', ...extra], env);
  children.add(child);
  child.once('close', () => children.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const result = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  // The run record is written before backup-begin, and after the signal handlers are installed.
  await waitFor('a run record', () => runRecords().length > 0, 20_000, 5);
  child.kill('SIGUSR1');
  const job = await waitFor('the job record to say paused', () => jobRecords().find((j) => j.pid === child.pid && j.state === 'paused'));
  await waitFor('the libvirt backup job', () => hasBackupJob(), 20_000, 50);
  return { child, result, jobId: job.jobId };
}

describe('hot backup of a running VM through the CLI', { concurrency: false }, () => {
  before(async () => {
    unavailable = await ensureLibvirt();
    if (unavailable) return;
    mkdirSync(scratchDir);
    chmodSync(tmp.dir, 0o755);
    chmodSync(scratchDir, 0o755);
    vm = await createTestVm({ start: 'running', namePrefix: 'vmbak-hot', disks: [
      { target: 'vda', format: 'qcow2', sizeBytes: model.vda.length },
      { target: 'vdb', format: 'raw', sizeBytes: model.vdb.length },
    ] });
    assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (!unavailable) await destroyAllTestVms();
    tmp.remove();
  });

  test('first backup reads both disks in full and says why; restores byte for byte', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    assert.equal((await virshTest('domstate', vm.name)).trim(), 'running');
    await write('vda', 0, 1 * MiB, 0xa1);
    await write('vda', 20 * MiB, 2 * MiB, 0xa2);
    await write('vdb', 1 * MiB, 1 * MiB, 0xb1);
    const b = await backupOk();
    assert.equal(b.incremental, false);
    assert.equal(b.consistency, 'crash');
    assert.match(b.warnings.join('\n'), /not quiesced/);
    assert.equal(disk(b, 'vda').fallbackReason, 'no checkpoint from a previous backup');
    assert.equal(disk(b, 'vdb').fallbackReason, 'raw disk: no changed-block tracking');
    await assertRestores(b.backupId, recorded.at(-1)!);
    assert.equal((await checkpoints()).length, 1);
    await assertNothingLeft(await checkpoints());
  });

  test('incremental: qcow2 reads only changed chunks, raw falls back to hash-delta; a paused backup holds its instant', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const writes: [number, number][] = [[8 * MiB, 1 * MiB], [30 * MiB + 4 * KiB, 512 * KiB]];
    for (let i = 0; i < 64; i++) writes.push([40 * MiB + i * 192 * KiB + (i % 16) * 4 * KiB, 4 * KiB]);
    for (const [off, len] of writes) await write('vda', off, len, 0xc0 + (off % 13));
    await write('vdb', 5 * MiB, 256 * KiB, 0xd1);
    const writtenBytes = writes.reduce((n, [, len]) => n + len, 0);
    const touched = new Set<number>();
    for (const [off, len] of writes) for (let c = Math.floor(off / CHUNK_BYTES); c * CHUNK_BYTES < off + len; c++) touched.add(c);

    const { result, jobId } = await startPausedBackup();
    const listed = await vmbak(['jobs', 'ls', '--json'], env);
    const jobs = JSON.parse(listed.stdout) as { jobId: string; state: string; hotRuns: { vm: string }[] }[];
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.state, 'paused');
    assert.equal(jobs[0]!.hotRuns[0]!.vm, vm.name);
    // Paused: nothing more is read while the guest keeps writing.
    const readBefore = jobRecords().find((j) => j.jobId === jobId)!.bytesRead;
    await write('vda', 8 * MiB, 64 * KiB, 0xe1, false);
    await write('vda', 50 * MiB, 64 * KiB, 0xe2, false);
    await write('vdb', 5 * MiB, 64 * KiB, 0xe3, false);
    await sleep(1200);
    assert.equal(jobRecords().find((j) => j.jobId === jobId)!.bytesRead, readBefore, 'bytes read do not grow while paused');
    assert.equal(await hasBackupJob(), true, 'the libvirt job is held while paused');
    const resumed = await vmbak(['jobs', 'resume', jobId], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    const r = await result;
    assert.equal(r.code, 0, r.stderr);
    const b = record(jsonLine<BackupJson>(r));
    assert.match(r.stderr, /paused/);

    const vda = disk(b, 'vda');
    assert.equal(vda.incremental, true, JSON.stringify(vda));
    assert.equal(vda.fallbackReason, null);
    assert.ok(vda.bytesRead <= touched.size * CHUNK_BYTES, `vda read ${vda.bytesRead} ≤ ${touched.size} chunks`);
    assert.ok(vda.bytesRead <= writtenBytes + writes.length * 2 * CHUNK_BYTES, `vda read ${vda.bytesRead} ≤ written ${writtenBytes} + rounding`);
    assert.ok(vda.bytesRead >= writtenBytes, `vda read ${vda.bytesRead} covers the ${writtenBytes} bytes written`);
    const vdb = disk(b, 'vdb');
    assert.equal(vdb.incremental, false);
    assert.equal(vdb.fallbackReason, 'raw disk: no changed-block tracking');
    assert.equal(vdb.bytesChanged, 256 * KiB, 'hash-delta finds the 4 changed chunks');
    // The writes made while paused are not in this backup; they are in the next one.
    await assertRestores(b.backupId, recorded.at(-1)!);
    applyWrite(model.vda, 8 * MiB, 64 * KiB, 0xe1);
    applyWrite(model.vda, 50 * MiB, 64 * KiB, 0xe2);
    applyWrite(model.vdb, 5 * MiB, 64 * KiB, 0xe3);
    assert.equal((await checkpoints()).length, 1, 'only the newest vmbak checkpoint is kept');
    await assertNothingLeft(await checkpoints());
  });

  test('a checkpoint deleted by hand: the next backup reads in full and says why', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const [cp] = await checkpoints();
    await virshTest('checkpoint-delete', vm.name, cp!);
    await write('vda', 60 * MiB, 128 * KiB, 0xf1);
    const b = await backupOk();
    const vda = disk(b, 'vda');
    assert.equal(vda.incremental, false);
    assert.equal(vda.fallbackReason, `checkpoint ${cp} no longer exists in libvirt`);
    assert.ok(vda.bytesRead >= 3 * MiB, 'read everything allocated');
    await assertRestores(b.backupId, recorded.at(-1)!);
  });

  test('kill -9 mid-backup: the VM keeps running, the next start sweeps job, scratch and checkpoint, then backs up on a correct base', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const before = await checkpoints();
    const { child, result } = await startPausedBackup();
    child.kill('SIGKILL');
    await result;
    assert.equal((await virshTest('domstate', vm.name)).trim(), 'running');
    assert.equal(await hasBackupJob(), true, 'the dead run left its libvirt job');
    assert.equal((await checkpoints()).length, before.length + 1, 'and its checkpoint');
    assert.equal(readdirSync(scratchDir).length, 1, 'and its scratch dir');
    await write('vda', 12 * MiB, 256 * KiB, 0x71);
    const r = await vmbak(['backup', '--vm', vm.name, '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /cleaned up after a dead run of .*backup job ended, checkpoint vmbak-\S+ deleted, scratch removed/);
    const b = record(jsonLine<BackupJson>(r));
    assert.equal(disk(b, 'vda').incremental, true, 'the base survives the sweep (a deleted checkpoint merges into its parent)');
    assert.ok(disk(b, 'vda').bytesRead <= 5 * CHUNK_BYTES);
    await assertRestores(b.backupId, recorded.at(-1)!);
    await assertNothingLeft(await checkpoints());
    assert.equal((await checkpoints()).length, 1);
    const v = await vmbak(['verify', '--no-progress'], env);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    for (const rec of recorded.slice(0, -1)) await assertRestores(rec.backupId, rec);
  });

  test('abort of a paused backup (vmbak jobs abort): exit 130, no manifest, no checkpoint, no scratch', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const before = await checkpoints();
    const { result, jobId } = await startPausedBackup();
    assert.equal((await vmbak(['jobs', 'pause', jobId], env)).code, 0, 'pausing a paused job is fine');
    const aborted = await vmbak(['jobs', 'abort', jobId], env);
    assert.equal(aborted.code, 0, aborted.stderr);
    const r = await result;
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /aborted by SIGTERM; nothing was recorded/);
    const ls = await vmbak(['backups', 'ls', '--json'], env);
    assert.equal((JSON.parse(ls.stdout) as unknown[]).length, recorded.length);
    await assertNothingLeft(before);
    const gone = await vmbak(['jobs', 'resume', jobId], env);
    assert.ok(isCleanError(gone), gone.stderr);
    assert.match(gone.stderr, /no job/);
  });

  test('a pause longer than --max-pause aborts the backup cleanly', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const before = await checkpoints();
    const { result } = await startPausedBackup(['--max-pause', '1s']);
    const r = await result;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /paused for longer than 1\.0 s and was aborted; nothing was recorded|paused for longer than .* and was aborted/);
    await assertNothingLeft(before);
  });

  test('--quiesce require without a guest agent: one clear error line, nothing left behind', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const before = await checkpoints();
    const r = await vmbak(['backup', '--vm', vm.name, '--quiesce', 'require', '--no-progress'], env);
    assert.ok(isCleanError(r), r.stderr);
    assert.match(r.stderr, new RegExp(`^vmbak: cannot quiesce VM ${vm.name}: `));
    await assertNothingLeft(before);
  });

  test('vm ls shows the VM with its disks', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const r = await vmbak(['vm', 'ls', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const row = (JSON.parse(r.stdout) as { name: string; uuid: string; state: string; disks: { target: string; format: string; sizeBytes: number; changedBlockTracking: boolean }[] }[])
      .find((v) => v.name === vm.name)!;
    assert.equal(row.uuid, vm.uuid);
    assert.equal(row.state, 'running');
    assert.deepEqual(row.disks.map((d) => [d.target, d.format, d.sizeBytes, d.changedBlockTracking]),
      [['vda', 'qcow2', 64 * MiB, true], ['vdb', 'raw', 16 * MiB, false]]);
  });

  test('restore --as-vm defines a new VM (new name, UUID, MACs) that starts', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const last = recorded.at(-1)!;
    const name = `${vm.name}-copy`;
    const poolDir = join(tmp.dir, 'pool');
    try {
      const r = await vmbak(['restore', last.backupId, '--as-vm', name, '--pool-dir', poolDir, '--start', '--no-progress'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await virshTest('domstate', name)).trim(), 'running');
      assert.notEqual((await virshTest('domuuid', name)).trim(), vm.uuid);
      const xml = await virshTest('dumpxml', name);
      const origXml = await virshTest('dumpxml', vm.name);
      const macs = (s: string) => [...s.matchAll(/<mac address='([^']+)'/g)].map((m) => m[1]);
      assert.notDeepEqual(macs(xml), macs(origXml));
      assert.match(xml, new RegExp(`${poolDir}/vda\\.qcow2`));
      assert.match(xml, /<driver name='qemu' type='qcow2'\/>[\s\S]*vdb\.qcow2/);
    } finally {
      await destroyTestVm(name);
    }
  });

  test('restore --in-place: refused without --yes off a terminal and while the VM runs; with --yes over the shut-off VM', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const last = recorded.at(-1)!;
    const running = await vmbak(['restore', last.backupId, '--in-place', '--yes', '--no-progress'], env);
    assert.ok(isCleanError(running), running.stderr);
    assert.match(running.stderr, /must be shut off/);
    await write('vda', 0, 64 * KiB, 0x99, false); // changes the restore must undo
    await virshTest('destroy', vm.name);
    // Under load libvirt may report the domain as still stopping for a moment.
    for (let i = 0; i < 100 && !(await virshTest('domstate', vm.name)).includes('shut off'); i++) await new Promise((r) => setTimeout(r, 100));
    const noYes = await vmbak(['restore', last.backupId, '--in-place', '--no-progress'], env);
    assert.ok(isCleanError(noYes), noYes.stderr);
    assert.equal(noYes.code, 2, noYes.stderr);
    assert.match(noYes.stderr, /needs confirmation: pass --yes/);
    const r = await vmbak(['restore', last.backupId, '--in-place', '--yes', '--no-progress'], env);
    assert.equal(r.code, 0, r.stderr);
    const raw = join(tmp.dir, 'inplace-vda.raw');
    qemuImg('convert', '-O', 'raw', vm.disks[0]!.path, raw);
    assert.ok(readFileSync(raw).equals(last.vda), 'vda restored in place');
    assert.ok(readFileSync(vm.disks[1]!.path).equals(last.vdb), 'vdb restored in place');
    assert.deepEqual(readdirSync(vm.dir).filter((n) => n.startsWith('.vmbak-restore')), []);
    await virshTest('start', vm.name);
    assert.equal((await virshTest('domstate', vm.name)).trim(), 'running');
  });
});
