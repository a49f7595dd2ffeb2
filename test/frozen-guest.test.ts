// A guest is never left frozen. qemu-ga on Linux has no auto-thaw, so a vmbak killed between
// freeze and thaw would leave the guest's filesystems frozen (every write in it blocked) until
// someone thaws them. The run record says "may be frozen" from before the freeze until the thaw,
// and the next vmbak start thaws a dead run's guest; a SIGINT/SIGTERM in the freeze window —
// even a second one, which otherwise exits at once — waits for the thaw.
// The freeze window is reached deterministically: a wrapper around the real virsh holds vmbak's
// backup-begin (the guest is frozen then) until the test has killed or signalled vmbak.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { virshTest } from './support/libvirt.ts';
import { assertThawedAndWriting, freezeStatus } from './support/guest.ts';
import { createVirshSpy, pathWithSpy, type VirshSpy } from './support/virsh-spy.ts';
import { jsonLine, spawnVmbak, vmbak } from './support/vmbak-cli.ts';
import { guestFixture, startGuestFixture, stopGuestFixture } from './support/guest-fixture.ts';

let spy: VirshSpy;
const fx = guestFixture('frozen');
const { tmp, scratchDir, stateDir, env } = fx;

const runRecords = (): Record<string, unknown>[] =>
  readdirSync(stateDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as Record<string, unknown>);

interface Ended { code: number | null; signal: NodeJS.Signals | null; stderr: string }

/** Starts `vmbak backup` with backup-begin held, and waits until the guest is frozen under it. */
async function startFrozenBackup(): Promise<{ child: ChildProcess; ended: Promise<Ended>; wrapperPid: number }> {
  spy.hold();
  const child = spawnVmbak(['backup', '--vm', fx.vm!.name, '--quiesce', 'require', '--no-progress'], { ...env, PATH: pathWithSpy(spy) });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const ended = new Promise<Ended>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stderr })));
  const wrapperPid = await Promise.race([spy.waitHeld(), ended.then((e) => { throw new Error(`vmbak ended before backup-begin: ${JSON.stringify(e)}`); })]);
  assert.equal(await freezeStatus(fx.vm!.name), 'frozen', 'the guest is frozen while backup-begin is held');
  return { child, ended, wrapperPid };
}

const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

const guarded = (name: string, fn: () => Promise<void>) => test(name, async (t) => {
  if (fx.unavailable) { t.skip(fx.unavailable); return; }
  try { await fn(); } catch (err) { fx.failed = true; throw err; } finally { spy?.release(); }
});

describe('a guest is never left frozen', { concurrency: false }, () => {
  before(() => startGuestFixture(fx, 'frozen', () => { spy = createVirshSpy(join(tmp.dir, 'spy')); }));
  after(async () => {
    // A failed test may have left the guest frozen; thaw it so it shuts down.
    if (fx.vm) await virshTest('domfsthaw', fx.vm.name).catch(() => undefined);
    await stopGuestFixture(fx);
  });

  guarded('kill -9 of vmbak while the guest is frozen: the guest stays frozen, and the next vmbak thaws it and says so', async () => {
    const { child, ended, wrapperPid } = await startFrozenBackup();
    const records = runRecords();
    assert.equal(records.length, 1);
    assert.equal(records[0]!.mayBeFrozen, true, 'the run record says the guest may be frozen');
    child.kill('SIGKILL');
    assert.equal((await ended).signal, 'SIGKILL');
    process.kill(wrapperPid, 'SIGKILL'); // the held backup-begin never runs
    await sleep(3000);
    assert.equal(await freezeStatus(fx.vm!.name), 'frozen', 'nothing in the guest thaws it');

    const r = await vmbak(['backup', '--vm', fx.vm!.name, '--quiesce', 'require', '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: cleaned up after a dead run of ${fx.vm!.name}: guest filesystems thawed, scratch removed\n`);
    assert.equal(jsonLine<{ consistency: string }>(r).consistency, 'filesystem');
    await assertThawedAndWriting(fx.vm!.name);
    assert.deepEqual(runRecords(), []);
  });

  guarded('a dead run\'s guest paused since: the record is kept and reported until the guest runs again, then it is thawed', async () => {
    const { child, ended, wrapperPid } = await startFrozenBackup();
    child.kill('SIGKILL');
    await ended;
    process.kill(wrapperPid, 'SIGKILL');
    await virshTest('suspend', fx.vm!.name);
    try {
      const r = await vmbak(['backup', '--vm', fx.vm!.name, '--quiesce', 'off', '--json', '--no-progress'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stderr, `vmbak: cleaned up after a dead run of ${fx.vm!.name}: its guest may still be frozen and could not be thawed (the VM is paused); run: virsh domfsthaw ${fx.vm!.name}\n`);
      assert.equal(runRecords().length, 1, 'the record is kept for the next start');
    } finally {
      await virshTest('resume', fx.vm!.name);
    }
    assert.equal(await freezeStatus(fx.vm!.name), 'frozen');
    const r = await vmbak(['backup', '--vm', fx.vm!.name, '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: cleaned up after a dead run of ${fx.vm!.name}: guest filesystems thawed, scratch removed\n`);
    assert.deepEqual(runRecords(), []);
    await assertThawedAndWriting(fx.vm!.name);
  });

  guarded('SIGINT while the guest is frozen: vmbak thaws, then aborts (exit 130) and leaves nothing behind', async () => {
    const checkpoints = await virshTest('checkpoint-list', fx.vm!.name, '--name');
    const { child, ended } = await startFrozenBackup();
    child.kill('SIGINT');
    await sleep(1000);
    assert.ok(alive(child), 'vmbak waits for the freeze window to end');
    spy.release();
    const e = await ended;
    assert.equal(e.code, 130, e.stderr);
    assert.equal(e.stderr, 'vmbak: aborted by SIGINT; nothing was recorded\n');
    await assertThawedAndWriting(fx.vm!.name);
    assert.deepEqual(runRecords(), []);
    assert.deepEqual(readdirSync(scratchDir), []);
    assert.equal(await virshTest('checkpoint-list', fx.vm!.name, '--name'), checkpoints);
  });

  guarded('a second SIGTERM, which otherwise exits at once, waits while the guest is frozen and takes effect right after the thaw', async () => {
    const { child, ended } = await startFrozenBackup();
    child.kill('SIGTERM');
    await sleep(300);
    child.kill('SIGTERM');
    await sleep(1500);
    assert.ok(alive(child), 'vmbak holds the second SIGTERM while the guest is frozen');
    assert.equal(await freezeStatus(fx.vm!.name), 'frozen');
    spy.release();
    const e = await ended;
    assert.equal(e.signal, 'SIGTERM', `ended by the held SIGTERM: ${JSON.stringify(e)}`);
    await assertThawedAndWriting(fx.vm!.name);
    // It died right after the thaw, so its record no longer says "may be frozen": the next run
    // ends its backup job and removes its checkpoint, and thaws nothing.
    assert.equal(runRecords()[0]?.mayBeFrozen, false);
    const r = await vmbak(['backup', '--vm', fx.vm!.name, '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^vmbak: cleaned up after a dead run of ${fx.vm!.name}: backup job ended, checkpoint \\S+ deleted, scratch removed\\n$`));
    await assertThawedAndWriting(fx.vm!.name);
  });
});
