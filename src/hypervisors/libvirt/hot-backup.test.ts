// Hot backups against a real libvirtd + QEMU (TCG): full then incremental sessions, point in
// time while the guest writes, chain fallback when a checkpoint is deleted by hand, quiesce
// failing without an agent, kill -9 of a session owner swept on the next start, scratch space
// running low, and a scratch filesystem mounted after the VM started (which QEMU does not see).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isVmbakError } from '../../core/index.ts';
import type { ByteRange } from '../../core/index.ts';
import { openBackupSession, sweepStaleRuns } from './index.ts';
import type { LibvirtBackupSession, SessionOptions } from './index.ts';
import { applyWrite, createTestVm, destroyAllTestVms, ensureLibvirt, hmpWrite, virshTest } from '../../../test/support/libvirt.ts';
import type { TestVm } from '../../../test/support/libvirt.ts';
import { readAll } from '../../../test/support/libvirt-nbd.ts';
import { mountSmallTmpfs, type SmallFs } from '../../../test/support/tmpfs.ts';
import { setTimeout as sleep } from 'node:timers/promises';

const MiB = 1024 * 1024;
const KiB = 1024;
/** qcow2 persistent bitmaps track 64 KiB clusters by default. */
const BITMAP_GRANULARITY_BYTES = 64 * KiB;

let unavailable: string | null = null;
let vm: TestVm;
let stateDir: string;
let scratchDir: string;
let small: SmallFs | null = null;
const model = { vda: Buffer.alloc(16 * MiB), vdb: Buffer.alloc(8 * MiB) };

function options(extra: Partial<SessionOptions> = {}): SessionOptions {
  return { sinceCheckpoint: null, quiesce: 'auto', stateDir, scratchDir, scratchReserveBytes: 1 * MiB, ...extra };
}

async function write(target: 'vda' | 'vdb', offsetBytes: number, lengthBytes: number, pattern: number, updateModel = true): Promise<void> {
  await hmpWrite(vm.name, target, offsetBytes, lengthBytes, pattern);
  if (updateModel) applyWrite(model[target], offsetBytes, lengthBytes, pattern);
}

async function checkpoints(): Promise<string[]> {
  return (await virshTest('checkpoint-list', vm.name, '--name')).split('\n').map((l) => l.trim()).filter(Boolean);
}

async function hasBackupJob(): Promise<boolean> {
  return virshTest('backup-dumpxml', vm.name).then(() => true, () => false);
}

function sessionDisk(session: LibvirtBackupSession, target: string) {
  const d = session.disks.find((x) => x.source.name === target);
  assert.ok(d, `session has disk ${target}`);
  return d;
}

function covers(ranges: readonly ByteRange[], offsetBytes: number, lengthBytes: number): boolean {
  for (let at = offsetBytes; at < offsetBytes + lengthBytes;) {
    const r = ranges.find((x) => x.offsetBytes <= at && at < x.offsetBytes + x.lengthBytes);
    if (!r) return false;
    at = r.offsetBytes + r.lengthBytes;
  }
  return true;
}

describe('libvirt hot backup sessions', { concurrency: false }, () => {
  before(async () => {
    unavailable = await ensureLibvirt();
    if (unavailable) return;
    stateDir = mkdtempSync(join(tmpdir(), 'vmbak-runs-'));
    scratchDir = mkdtempSync(join(tmpdir(), 'vmbak-scratch-'));
    chmodSync(scratchDir, 0o755);
    // Mounted before QEMU starts: QEMU runs in its own mount namespace, where later mounts do not show.
    small = await mountSmallTmpfs(12);
    vm = await createTestVm({ disks: [
      { target: 'vda', format: 'qcow2', sizeBytes: 16 * MiB },
      { target: 'vdb', format: 'raw', sizeBytes: 8 * MiB },
    ] });
  });
  after(async () => {
    if (unavailable) return;
    await destroyAllTestVms();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(scratchDir, { recursive: true, force: true });
    await small?.unmount();
  });

  let firstCheckpoint: string;

  test('full session reads both disks at one point in time', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    await write('vda', 1 * MiB, 64 * KiB, 0xab);
    await write('vdb', 2 * MiB, 64 * KiB, 0x11);
    const session = await openBackupSession(vm.name, options());
    try {
      assert.equal(session.consistency, 'crash');
      assert.match(session.warnings.join('\n'), /not quiesced/);
      assert.equal(sessionDisk(session, 'vda').incrementalFrom, null);
      assert.equal(sessionDisk(session, 'vda').fallbackReason, 'no checkpoint from a previous backup');
      assert.equal(sessionDisk(session, 'vdb').fallbackReason, 'raw disk: no changed-block tracking');
      assert.match(session.domainXml, new RegExp(`<name>${vm.name}</name>`));
      // Guest writes after the start do not show in this session's reads.
      await write('vda', 3 * MiB, 64 * KiB, 0xee, false);
      await write('vdb', 3 * MiB, 64 * KiB, 0xee, false);
      assert.ok((await readAll(sessionDisk(session, 'vda').source)).equals(model.vda), 'vda content at the backup instant');
      assert.ok((await readAll(sessionDisk(session, 'vdb').source)).equals(model.vdb), 'vdb content at the backup instant');
      firstCheckpoint = session.checkpointId!;
      assert.match(firstCheckpoint, /^vmbak-/);
    } finally {
      await session.finish();
    }
    applyWrite(model.vda, 3 * MiB, 64 * KiB, 0xee);
    applyWrite(model.vdb, 3 * MiB, 64 * KiB, 0xee);
    assert.deepEqual(await checkpoints(), [firstCheckpoint]);
    assert.equal(await hasBackupJob(), false);
    assert.deepEqual(readdirSync(scratchDir), []);
    assert.deepEqual(readdirSync(stateDir), []);
  });

  test('next session is incremental and maps exactly the written ranges', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    await write('vda', 5 * MiB, 128 * KiB, 0xcd);
    await write('vda', 9 * MiB + 4 * KiB, 4 * KiB, 0x5a);
    await write('vdb', 6 * MiB, 64 * KiB, 0x22);
    const session = await openBackupSession(vm.name, options({ sinceCheckpoint: firstCheckpoint }));
    try {
      const vda = sessionDisk(session, 'vda');
      assert.equal(vda.incrementalFrom, firstCheckpoint);
      assert.equal(vda.fallbackReason, null);
      assert.equal(sessionDisk(session, 'vdb').fallbackReason, 'raw disk: no changed-block tracking');
      assert.equal(sessionDisk(session, 'vdb').source.mapDirty, undefined);
      const dirty = await vda.source.mapDirty!(0, vda.source.sizeBytes);
      const written = [[3 * MiB, 64 * KiB], [5 * MiB, 128 * KiB], [9 * MiB + 4 * KiB, 4 * KiB]] as const;
      for (const [off, len] of written) assert.ok(covers(dirty, off, len), `dirty map covers ${off}+${len}: ${JSON.stringify(dirty)}`);
      const dirtyBytes = dirty.reduce((n, r) => n + r.lengthBytes, 0);
      const roundedBytes = written.reduce((n, [off, len]) =>
        n + Math.ceil((off + len) / BITMAP_GRANULARITY_BYTES) * BITMAP_GRANULARITY_BYTES - Math.floor(off / BITMAP_GRANULARITY_BYTES) * BITMAP_GRANULARITY_BYTES, 0);
      assert.equal(dirtyBytes, roundedBytes);
      assert.ok((await readAll(vda.source)).equals(model.vda));
      assert.ok((await readAll(sessionDisk(session, 'vdb').source)).equals(model.vdb));
      await session.finish();
      assert.deepEqual(await checkpoints(), [session.checkpointId], 'older vmbak checkpoint deleted');
      firstCheckpoint = session.checkpointId!;
    } catch (err) {
      await session.abort();
      throw err;
    }
  });

  test('a checkpoint deleted by hand makes the next session read in full, abort removes the new one', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    await virshTest('checkpoint-delete', vm.name, firstCheckpoint);
    const session = await openBackupSession(vm.name, options({ sinceCheckpoint: firstCheckpoint }));
    try {
      const vda = sessionDisk(session, 'vda');
      assert.equal(vda.incrementalFrom, null);
      assert.equal(vda.fallbackReason, `checkpoint ${firstCheckpoint} no longer exists in libvirt`);
      assert.equal(vda.source.mapDirty, undefined);
      assert.ok((await readAll(vda.source)).equals(model.vda));
    } finally {
      await session.abort();
    }
    assert.deepEqual(await checkpoints(), []);
    assert.equal(await hasBackupJob(), false);
    assert.deepEqual(readdirSync(scratchDir), []);
  });

  test('--quiesce require without a guest agent fails clearly and leaves nothing behind', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    await assert.rejects(openBackupSession(vm.name, options({ quiesce: 'require' })), (err) => {
      assert.ok(isVmbakError(err, 'QUIESCE_FAILED'), String(err));
      assert.match(err.message, new RegExp(`cannot quiesce VM ${vm.name}: .*(agent|not running)`, 'i'));
      return true;
    });
    assert.deepEqual(await checkpoints(), []);
    assert.equal(await hasBackupJob(), false);
    assert.deepEqual(readdirSync(scratchDir), []);
    assert.deepEqual(readdirSync(stateDir), []);
  });

  test('kill -9 of a session owner: the next start sweeps job, scratch and checkpoint; the VM keeps running', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const child = spawn(process.execPath, [join(import.meta.dirname, '../../../test/support/libvirt-session-child.ts'), vm.name, stateDir, scratchDir],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`session child exited with ${code}`)));
    });
    const { checkpoint, runDir } = JSON.parse(line) as { checkpoint: string; runDir: string };
    // A live owner's run is never touched.
    assert.deepEqual(await sweepStaleRuns({ stateDir }), []);
    assert.equal(await hasBackupJob(), true);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    if (!(await hasBackupJob())) console.error('JOBINFO', await virshTest('domjobinfo', vm.name), await virshTest('backup-dumpxml', vm.name).catch((e) => String(e)));
    assert.equal(await hasBackupJob(), true, 'the job outlives its owner');
    assert.ok(existsSync(runDir));
    const swept = await sweepStaleRuns({ stateDir, isCheckpointNeeded: () => false });
    assert.equal(swept.length, 1);
    assert.equal(swept[0]!.error, null);
    assert.equal(swept[0]!.jobAborted, true);
    assert.equal(swept[0]!.checkpointDeleted, true);
    assert.equal(await hasBackupJob(), false);
    assert.equal(existsSync(runDir), false);
    assert.ok(!(await checkpoints()).includes(checkpoint));
    assert.deepEqual(readdirSync(stateDir), []);
    assert.match((await virshTest('domstate', vm.name)).trim(), /^(running|paused)$/);
    // The following backup works on a clean slate.
    const session = await openBackupSession(vm.name, options());
    try {
      assert.ok((await readAll(sessionDisk(session, 'vda').source)).equals(model.vda));
    } finally {
      await session.finish();
    }
  });

  test('scratch space running low aborts the backup job, never the guest: its writes land, also those past the scratch size', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    if (!small) { t.skip('cannot mount a tmpfs'); return; }
    {
      // Old data to protect: copy-before-write stores no copy of clusters that held only zeros.
      for (let i = 0; i < 10; i++) await write('vda', i * MiB, MiB, 0x80 + i);
      const warned: unknown[] = [];
      const session = await openBackupSession(vm.name, options({ scratchDir: small.dir, scratchReserveBytes: 6 * MiB, scratchPollMs: 50, onScratchLow: (e) => warned.push(e) }));
      // While the job runs, every first write to a cluster copies its old data into the scratch file.
      for (let i = 0; i < 8 && !session.signal.aborted; i++) {
        await write('vda', i * MiB, MiB, 0x90 + i);
        await sleep(100);
      }
      for (let i = 0; i < 100 && !session.signal.aborted; i++) await sleep(50);
      assert.equal(session.signal.aborted, true, 'the session was aborted');
      assert.ok(isVmbakError(session.signal.reason) && session.signal.reason.code === 'SCRATCH_SPACE_LOW', String(session.signal.reason));
      assert.equal(warned.length, 1);
      assert.equal(await hasBackupJob(), false, 'the backup job is gone');
      // With the job gone, writes no longer go through the scratch: 16 MiB more than it could hold land.
      for (let i = 0; i < 16; i++) await write('vda', i * MiB, MiB, 0xa0 + i);
      await session.abort();
      assert.deepEqual(readdirSync(small.dir), [], 'scratch removed');
      // The test VM has no OS and is kept paused by the test; an I/O error would show as `paused (I/O error)`.
      assert.match((await virshTest('domstate', vm.name, '--reason')).trim(), /^(running|paused \(user\))/, 'the guest never stopped on an I/O error');
      assert.match(await virshTest('domblkerror', vm.name), /No errors found/);
      const next = await openBackupSession(vm.name, options());
      try {
        assert.ok((await readAll(sessionDisk(next, 'vda').source)).equals(model.vda), 'every guest write is on the disk');
      } finally {
        await next.finish();
      }
    }
  });

  test('a scratch filesystem mounted after the VM started, which QEMU does not see, is refused with one line before anything starts', async (t) => {
    if (unavailable) { t.skip(unavailable); return; }
    const late = await mountSmallTmpfs(64);
    if (!late) { t.skip('cannot mount a tmpfs'); return; }
    try {
      const before = await checkpoints();
      await assert.rejects(openBackupSession(vm.name, options({ scratchDir: late.dir })), (err) => {
        assert.ok(isVmbakError(err, 'SCRATCH_HIDDEN_FROM_QEMU'), String(err));
        assert.equal(err.message, `QEMU of VM ${vm.name} sees another filesystem at scratch directory ${late.dir} than vmbak `
          + '(mounted after the VM started? QEMU keeps the mounts it started with): use another --scratch-dir or restart the VM');
        return true;
      });
      assert.deepEqual(await checkpoints(), before);
      assert.equal(await hasBackupJob(), false);
      assert.deepEqual(readdirSync(late.dir), [], 'no run folder made');
      assert.deepEqual(readdirSync(stateDir), []);
    } finally {
      await late.unmount();
    }
    // The same folder without the late mount is what QEMU sees: the backup runs.
    const plain = mkdtempSync(join(tmpdir(), 'vmbak-scratch-'));
    chmodSync(plain, 0o755);
    try {
      const session = await openBackupSession(vm.name, options({ scratchDir: plain }));
      await session.abort();
    } finally {
      rmSync(plain, { recursive: true, force: true });
    }
  });
});
