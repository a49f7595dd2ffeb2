// A guest is never left frozen. qemu-ga on Linux has no auto-thaw, so a vmbak killed between
// freeze and thaw would leave the guest's filesystems frozen (every write in it blocked) until
// someone thaws them. The run record says "may be frozen" from before the freeze until the thaw,
// and the next vmbak start thaws a dead run's guest; a SIGINT/SIGTERM in the freeze window —
// even a second one, which otherwise exits at once — waits for the thaw.
// The freeze window is reached deterministically: a wrapper around the real virsh holds vmbak's
// backup-begin (the guest is frozen then) until the test has killed or signalled vmbak.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { ensureLibvirt, virshTest } from './support/libvirt.ts';
import { assertThawedAndWriting, buildTestGuest, freezeStatus, startAgentGuest, type GuestVm } from './support/guest.ts';
import { createVirshSpy, pathWithSpy, type VirshSpy } from './support/virsh-spy.ts';
import { jsonLine, spawnVmbak, tempDir, vmbak } from './support/vmbak-cli.ts';

let unavailable: string | null = null;
let vm: GuestVm | undefined;
let spy: VirshSpy;
let failed = false;
const tmp = tempDir('frozen');
const scratchDir = join(tmp.dir, 'scratch');
const stateDir = join(tmp.dir, 'runs');
const env: NodeJS.ProcessEnv = { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: stateDir, VMBAK_SCRATCH_DIR: scratchDir };

const runRecords = (): Record<string, unknown>[] =>
  readdirSync(stateDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(stateDir, f), 'utf8')) as Record<string, unknown>);

interface Ended { code: number | null; signal: NodeJS.Signals | null; stderr: string }

/** Starts `vmbak backup` with backup-begin held, and waits until the guest is frozen under it. */
async function startFrozenBackup(): Promise<{ child: ChildProcess; ended: Promise<Ended>; wrapperPid: number }> {
  spy.hold();
  const child = spawnVmbak(['backup', '--vm', vm!.name, '--quiesce', 'require', '--no-progress'], { ...env, PATH: pathWithSpy(spy) });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const ended = new Promise<Ended>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stderr })));
  const wrapperPid = await Promise.race([spy.waitHeld(), ended.then((e) => { throw new Error(`vmbak ended before backup-begin: ${JSON.stringify(e)}`); })]);
  assert.equal(await freezeStatus(vm!.name), 'frozen', 'the guest is frozen while backup-begin is held');
  return { child, ended, wrapperPid };
}

const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

const guarded = (name: string, fn: () => Promise<void>) => test(name, async (t) => {
  if (unavailable) { t.skip(unavailable); return; }
  try { await fn(); } catch (err) { failed = true; throw err; } finally { spy?.release(); }
});

describe('a guest is never left frozen', { concurrency: false }, () => {
  before(async () => {
    unavailable = await ensureLibvirt();
    if (unavailable) return;
    const images = await buildTestGuest();
    if (typeof images === 'string') { unavailable = images; return; }
    mkdirSync(scratchDir);
    mkdirSync(stateDir);
    chmodSync(tmp.dir, 0o755);
    chmodSync(scratchDir, 0o755);
    spy = createVirshSpy(join(tmp.dir, 'spy'));
    vm = await startAgentGuest(images, { namePrefix: 'vmbak-frozen' });
    const init = await vmbak(['repo', 'init'], env);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    if (vm && failed) process.stderr.write(`--- console of ${vm.name} ---\n${vm.consoleTail(60)}\n`);
    if (vm) await virshTest('domfsthaw', vm.name).catch(() => undefined);
    await vm?.destroy();
    tmp.remove();
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
    assert.equal(await freezeStatus(vm!.name), 'frozen', 'nothing in the guest thaws it');

    const r = await vmbak(['backup', '--vm', vm!.name, '--quiesce', 'require', '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: cleaned up after a dead run of ${vm!.name}: guest filesystems thawed, scratch removed\n`);
    assert.equal(jsonLine<{ consistency: string }>(r).consistency, 'filesystem');
    await assertThawedAndWriting(vm!.name);
    assert.deepEqual(runRecords(), []);
  });

  guarded('a dead run\'s guest paused since: the record is kept and reported until the guest runs again, then it is thawed', async () => {
    const { child, ended, wrapperPid } = await startFrozenBackup();
    child.kill('SIGKILL');
    await ended;
    process.kill(wrapperPid, 'SIGKILL');
    await virshTest('suspend', vm!.name);
    try {
      const r = await vmbak(['backup', '--vm', vm!.name, '--quiesce', 'off', '--json', '--no-progress'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stderr, `vmbak: cleaned up after a dead run of ${vm!.name}: its guest may still be frozen and could not be thawed (the VM is paused); run: virsh domfsthaw ${vm!.name}\n`);
      assert.equal(runRecords().length, 1, 'the record is kept for the next start');
    } finally {
      await virshTest('resume', vm!.name);
    }
    assert.equal(await freezeStatus(vm!.name), 'frozen');
    const r = await vmbak(['backup', '--vm', vm!.name, '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: cleaned up after a dead run of ${vm!.name}: guest filesystems thawed, scratch removed\n`);
    assert.deepEqual(runRecords(), []);
    await assertThawedAndWriting(vm!.name);
  });

  guarded('SIGINT while the guest is frozen: vmbak thaws, then aborts (exit 130) and leaves nothing behind', async () => {
    const checkpoints = await virshTest('checkpoint-list', vm!.name, '--name');
    const { child, ended } = await startFrozenBackup();
    child.kill('SIGINT');
    await sleep(1000);
    assert.ok(alive(child), 'vmbak waits for the freeze window to end');
    spy.release();
    const e = await ended;
    assert.equal(e.code, 130, e.stderr);
    assert.equal(e.stderr, 'vmbak: aborted by SIGINT; nothing was recorded\n');
    await assertThawedAndWriting(vm!.name);
    assert.deepEqual(runRecords(), []);
    assert.deepEqual(readdirSync(scratchDir), []);
    assert.equal(await virshTest('checkpoint-list', vm!.name, '--name'), checkpoints);
  });

  guarded('a second SIGTERM, which otherwise exits at once, waits while the guest is frozen and takes effect right after the thaw', async () => {
    const { child, ended } = await startFrozenBackup();
    child.kill('SIGTERM');
    await sleep(300);
    child.kill('SIGTERM');
    await sleep(1500);
    assert.ok(alive(child), 'vmbak holds the second SIGTERM while the guest is frozen');
    assert.equal(await freezeStatus(vm!.name), 'frozen');
    spy.release();
    const e = await ended;
    assert.equal(e.signal, 'SIGTERM', `ended by the held SIGTERM: ${JSON.stringify(e)}`);
    await assertThawedAndWriting(vm!.name);
    // It died right after the thaw, so its record no longer says "may be frozen": the next run
    // ends its backup job and removes its checkpoint, and thaws nothing.
    assert.equal(runRecords()[0]?.mayBeFrozen, false);
    const r = await vmbak(['backup', '--vm', vm!.name, '--json', '--no-progress'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`^vmbak: cleaned up after a dead run of ${vm!.name}: backup job ended, checkpoint \\S+ deleted, scratch removed\\n$`));
    await assertThawedAndWriting(vm!.name);
  });
});
