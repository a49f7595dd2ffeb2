// Application-consistent hot backups with a real guest: host-side --pre-freeze / --post-thaw
// hooks around the guest agent's freeze. A wrapper around the real virsh (test/support/virsh-spy.ts)
// timestamps vmbak's freeze, backup-begin and thaw calls, and the hooks timestamp themselves
// and ask the agent whether the guest is frozen, so the order pre-freeze → freeze →
// backup-begin → thaw → post-thaw is observed, not assumed. Failing and hanging hooks give the
// behaviour docs/cli.md promises, and after every case the guest is thawed and writing. An
// abort (SIGINT, `vmbak jobs abort`) kills a running pre-freeze hook with its children at once,
// and lets a running post-thaw hook finish.

import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_URI, virshTest } from './support/libvirt.ts';
import { assertThawedAndWriting } from './support/guest.ts';
import { createVirshSpy, pathWithSpy, type SpyEvent, type VirshSpy } from './support/virsh-spy.ts';
import { jsonLine, spawnVmbak, vmbak, waitUntil, type CliResult } from './support/vmbak-cli.ts';
import { guestFixture, startGuestFixture, stopGuestFixture } from './support/guest-fixture.ts';

interface BackupJson { backupId: string | null; vm: string; consistency: string; warnings: string[]; error?: string }

let spy: VirshSpy;
const fx = guestFixture('hooks');
const { tmp, scratchDir, stateDir } = fx;
const hookLog = join(tmp.dir, 'hooks.log');
const hookScript = join(tmp.dir, 'hook.sh');
const env = (): NodeJS.ProcessEnv => ({
  VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: stateDir, VMBAK_SCRATCH_DIR: scratchDir, PATH: pathWithSpy(spy),
});

// Logs "<hook> <ns> <name> <uuid> <agent's freeze status>"; prints JSON-looking noise on stdout
// (which must not reach vmbak's --json output); then exits with $1 after writing $2 to stderr.
const HOOK = `#!/bin/sh
status=$(virsh -q -c ${TEST_URI} qemu-agent-command "$VMBAK_VM_UUID" '{"execute":"guest-fsfreeze-status"}' 2>&1 | tr -d '\\n')
echo "$VMBAK_HOOK $(date +%s%N) $VMBAK_VM_NAME $VMBAK_VM_UUID $status" >> ${hookLog}
echo '{"hook":"stdout"}'
[ -n "$2" ] && echo "$2" >&2
exit \${1:-0}
`;

interface HookLine { hook: string; atMs: number; name: string; uuid: string; status: string }

function hookLines(): HookLine[] {
  if (!existsSync(hookLog)) return [];
  return readFileSync(hookLog, 'utf8').trim().split('\n').filter(Boolean).map((l) => {
    const [hook, ns, name, uuid, ...status] = l.split(' ');
    return { hook: hook!, atMs: Number(BigInt(ns!) / 1000n) / 1000, name: name!, uuid: uuid!, status: status.join(' ') };
  });
}

function backup(...extra: string[]): Promise<CliResult> {
  rmSync(hookLog, { force: true });
  spy.clear();
  return vmbak(['backup', '--vm', fx.vm!.name, '--json', '--no-progress', ...extra], env());
}

const event = (events: SpyEvent[], op: string, phase: string): SpyEvent => {
  const e = events.find((x) => x.op === op && x.phase === phase);
  assert.ok(e, `virsh ${op} ${phase} in ${JSON.stringify(events)}`);
  return e;
};

async function backupCount(): Promise<number> {
  const ls = await vmbak(['backups', 'ls', '--json'], env());
  assert.equal(ls.code, 0, ls.stderr);
  return (JSON.parse(ls.stdout) as unknown[]).length;
}

async function checkpointNames(): Promise<string[]> {
  return (await virshTest('checkpoint-list', fx.vm!.name, '--name')).split('\n').map((s) => s.trim()).filter(Boolean).sort();
}

/** A failed backup leaves no run record, no scratch files, no libvirt job and no new checkpoint. */
async function assertNothingLeft(checkpointsBefore: string[]): Promise<void> {
  assert.deepEqual(readdirSync(stateDir).filter((f) => f.endsWith('.json')), [], 'no run records left');
  assert.deepEqual(readdirSync(scratchDir), [], 'no scratch left');
  await assert.rejects(virshTest('backup-dumpxml', fx.vm!.name), 'no backup job left');
  assert.deepEqual(await checkpointNames(), checkpointsBefore, 'no checkpoint left');
}

/** A backup stopped before the freeze: never frozen, nothing recorded or left, the guest writing. */
async function assertStoppedBeforeFreeze(backupsBefore: number, checkpointsBefore: string[]): Promise<void> {
  assert.deepEqual(spy.events(), [], 'the guest was never frozen');
  assert.equal(await backupCount(), backupsBefore, 'no backup recorded');
  await assertNothingLeft(checkpointsBefore);
  await assertThawedAndWriting(fx.vm!.name);
}

/** Alive and not a zombie (a killed grandchild waits for a reaper that may be slow in a container). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function pidIn(file: string): number | null {
  const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  return /^\d+$/.test(text) ? Number(text) : null;
}

/** vmbak backup in the background, with its output and end collected. */
function startBackup(args: string[]): { child: ChildProcess; ended: Promise<CliResult> } {
  rmSync(hookLog, { force: true });
  spy.clear();
  const child = spawnVmbak(['backup', '--vm', fx.vm!.name, '--no-progress', ...args], env());
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d; });
  child.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const ended = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, ended };
}

const guarded = (name: string, fn: (t: TestContext) => Promise<void>) => test(name, async (t) => {
  if (fx.unavailable) { t.skip(fx.unavailable); return; }
  try { await fn(t); } catch (err) { fx.failed = true; throw err; }
});

describe('pre-freeze / post-thaw hooks with a real guest', { concurrency: false }, () => {
  before(() => startGuestFixture(fx, 'hooks', () => {
    writeFileSync(hookScript, HOOK);
    chmodSync(hookScript, 0o755);
    spy = createVirshSpy(join(tmp.dir, 'spy'));
    return env();
  }));
  after(() => stopGuestFixture(fx));

  guarded('hooks run in order pre-freeze → freeze → backup-begin → thaw → post-thaw, with the VM in their environment; the backup is application-consistent', async (t) => {
    const r = await backup('--quiesce', 'require', '--pre-freeze', hookScript, '--post-thaw', hookScript);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, 1, `hook stdout stays out of vmbak's: ${r.stdout}`);
    const b = jsonLine<BackupJson>(r);
    assert.equal(b.consistency, 'application');
    assert.deepEqual(b.warnings, []);
    const hooks = hookLines();
    assert.deepEqual(hooks.map((h) => h.hook), ['pre-freeze', 'post-thaw']);
    for (const h of hooks) {
      assert.equal(h.name, fx.vm!.name);
      assert.equal(h.uuid, fx.vm!.uuid);
      assert.equal(h.status, '{"return":"thawed"}', `the guest is thawed while ${h.hook} runs`);
    }
    const ev = spy.events();
    const begin = event(ev, 'backup-begin', 'start');
    assert.equal(begin.detail, '{"return":"frozen"}', 'the guest is frozen when backup-begin starts');
    const order = [
      ['pre-freeze', hooks[0]!.atMs], ['domfsfreeze start', event(ev, 'domfsfreeze', 'start').atMs],
      ['domfsfreeze end', event(ev, 'domfsfreeze', 'end').atMs], ['backup-begin start', begin.atMs],
      ['backup-begin end', event(ev, 'backup-begin', 'end').atMs], ['domfsthaw start', event(ev, 'domfsthaw', 'start').atMs],
      ['domfsthaw end', event(ev, 'domfsthaw', 'end').atMs], ['post-thaw', hooks[1]!.atMs],
    ] as const;
    for (let i = 1; i < order.length; i++) {
      assert.ok(order[i - 1]![1] <= order[i]![1], `${order[i - 1]![0]} (${order[i - 1]![1]}) before ${order[i]![0]} (${order[i]![1]})`);
    }
    t.diagnostic(`guest frozen for ${(order[6][1] - order[1][1]).toFixed(0)} ms (domfsfreeze start → domfsthaw end, incl. the wrapper's agent query); pre-freeze → post-thaw ${(order[7][1] - order[0][1]).toFixed(0)} ms`);
    const ls = await vmbak(['backups', 'ls', '--json'], env());
    const row = (JSON.parse(ls.stdout) as { backupId: string; consistency: string }[]).find((x) => x.backupId === b.backupId);
    assert.equal(row?.consistency, 'application', 'the manifest records it');
    await assertThawedAndWriting(fx.vm!.name);
  });

  guarded('--quiesce require: a failing pre-freeze hook fails the backup with one line naming the hook; no freeze, nothing left behind, post-thaw undoes', async () => {
    const backups = await backupCount();
    const checkpoints = await checkpointNames();
    const r = await vmbak(['backup', '--vm', fx.vm!.name, '--no-progress', '--quiesce', 'require',
      '--pre-freeze', `${hookScript} 7 'cannot lock tables'`, '--post-thaw', hookScript], (rmSync(hookLog, { force: true }), spy.clear(), env()));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `vmbak: pre-freeze hook for VM ${fx.vm!.name} failed: exit 7: cannot lock tables\n`);
    assert.deepEqual(hookLines().map((h) => h.hook), ['pre-freeze', 'post-thaw'], 'post-thaw runs to undo what pre-freeze began');
    await assertStoppedBeforeFreeze(backups, checkpoints);
  });

  guarded('--quiesce require: a pre-freeze hook over --hook-timeout is killed with everything it started, and the backup fails at once', async () => {
    const backups = await backupCount();
    const checkpoints = await checkpointNames();
    const startedMs = Date.now();
    const r = await vmbak(['backup', '--vm', fx.vm!.name, '--no-progress', '--quiesce', 'require', '--hook-timeout', '1',
      '--pre-freeze', `${hookScript}; sleep 30.4711; echo late >> ${hookLog}`], (rmSync(hookLog, { force: true }), spy.clear(), env()));
    const tookMs = Date.now() - startedMs;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: pre-freeze hook for VM ${fx.vm!.name} failed: timed out after 1 s (killed)\n`);
    assert.ok(tookMs < 15_000, `failed after ${tookMs} ms`);
    const leftover = spawnSync('pgrep', ['-f', '^sleep 30[.]4711'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(leftover, '', 'the hook\'s children were killed with it');
    await assertStoppedBeforeFreeze(backups, checkpoints);
  });

  guarded('--quiesce auto: a failing pre-freeze hook still freezes, records filesystem consistency with the warning, and exits 3', async () => {
    const r = await backup('--pre-freeze', `${hookScript} 2 'app not ready'`, '--post-thaw', hookScript);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const b = jsonLine<BackupJson>(r);
    assert.ok(b.backupId);
    assert.equal(b.consistency, 'filesystem');
    assert.deepEqual(b.warnings, [`pre-freeze hook for VM ${fx.vm!.name} failed: exit 2: app not ready`]);
    assert.match(r.stderr, new RegExp(`^vmbak: completed with warnings: ${fx.vm!.name} is filesystem-consistent, not application-consistent: pre-freeze hook .* failed: exit 2: app not ready\\n$`));
    event(spy.events(), 'domfsfreeze', 'end');
    assert.deepEqual(hookLines().map((h) => h.hook), ['pre-freeze', 'post-thaw']);
    await assertThawedAndWriting(fx.vm!.name);
  });

  guarded('a failing post-thaw hook: the backup is recorded application-consistent with a warning and exits 3', async () => {
    const r = await backup('--quiesce', 'require', '--pre-freeze', hookScript, '--post-thaw', `${hookScript} 5 'could not unlock'`);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    const b = jsonLine<BackupJson>(r);
    assert.ok(b.backupId);
    assert.equal(b.consistency, 'application', 'the point in time was taken with the application quiesced');
    assert.deepEqual(b.warnings, [`post-thaw hook for VM ${fx.vm!.name} failed: exit 5: could not unlock`]);
    assert.match(r.stderr, /^vmbak: completed with warnings: .*post-thaw hook .* failed: exit 5: could not unlock\n$/);
    await assertThawedAndWriting(fx.vm!.name);
  });

  guarded('SIGINT while a pre-freeze hook runs: the hook and its children are killed at once, vmbak exits 130, nothing recorded or left, never frozen; post-thaw runs', async (t) => {
    const backups = await backupCount();
    const checkpoints = await checkpointNames();
    const hookPid = join(tmp.dir, 'hook.pid');
    const childPid = join(tmp.dir, 'hook-child.pid');
    rmSync(hookPid, { force: true });
    rmSync(childPid, { force: true });
    const { child, ended } = startBackup(['--quiesce', 'require',
      '--pre-freeze', `${hookScript}; echo $$ > ${hookPid}; sleep 300.4721 & echo $! > ${childPid}; sleep 300.4722`,
      '--post-thaw', hookScript]);
    const pids = await waitUntil('the pre-freeze hook and its child', () => {
      const hook = pidIn(hookPid);
      const sub = pidIn(childPid);
      return hook !== null && sub !== null ? { hook, sub } : null;
    });
    assert.ok(alive(pids.hook) && alive(pids.sub), 'the hook and its child run');
    const sentMs = Date.now();
    child.kill('SIGINT');
    const r = await ended;
    const tookMs = Date.now() - sentMs;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: waiting for the post-thaw hook of VM ${fx.vm!.name} to finish (at most 60 s) before aborting\n`
      + 'vmbak: aborted by SIGINT; nothing was recorded\n');
    assert.ok(tookMs < 5000, `vmbak exited ${tookMs} ms after SIGINT`);
    t.diagnostic(`vmbak exited ${tookMs} ms after SIGINT (post-thaw hook included)`);
    assert.equal(alive(pids.hook), false, `the hook (pid ${pids.hook}) is gone`);
    assert.equal(alive(pids.sub), false, `the hook's child (pid ${pids.sub}) is gone`);
    assert.equal(spawnSync('pgrep', ['-f', '^sleep 300[.]472'], { encoding: 'utf8' }).stdout.trim(), '', 'no sleep of the hook is left');
    assert.deepEqual(hookLines().map((h) => h.hook), ['pre-freeze', 'post-thaw'], 'post-thaw runs to undo what pre-freeze began');
    await assertStoppedBeforeFreeze(backups, checkpoints);
  });

  guarded('vmbak jobs abort while the post-thaw hook runs: the hook is let finish, then the backup aborts (exit 130) and nothing is recorded or left', async () => {
    const backups = await backupCount();
    const checkpoints = await checkpointNames();
    const started = join(tmp.dir, 'post-thaw.started');
    const finished = join(tmp.dir, 'post-thaw.finished');
    rmSync(started, { force: true });
    rmSync(finished, { force: true });
    const { ended } = startBackup(['--quiesce', 'require', '--pre-freeze', hookScript,
      // 8 s: room for `jobs ls` and `jobs abort` (two vmbak starts) on a loaded machine.
      '--post-thaw', `${hookScript}; touch ${started}; sleep 8; touch ${finished}`]);
    await waitUntil('the post-thaw hook', () => existsSync(started), 60_000);
    const jobs = await vmbak(['jobs', 'ls', '--json'], env());
    const jobId = (JSON.parse(jobs.stdout) as { jobId: string }[])[0]?.jobId;
    assert.ok(jobId, jobs.stdout + jobs.stderr);
    const abort = await vmbak(['jobs', 'abort', jobId], env());
    assert.equal(abort.code, 0, abort.stderr);
    assert.equal(existsSync(finished), false, 'the abort came while post-thaw ran');
    const r = await ended;
    assert.equal(r.code, 130, r.stdout + r.stderr);
    assert.equal(r.stderr, `vmbak: waiting for the post-thaw hook of VM ${fx.vm!.name} to finish (at most 60 s) before aborting\n`
      + 'vmbak: aborted by SIGTERM; nothing was recorded\n');
    assert.ok(existsSync(finished), 'post-thaw was not killed: it finished undoing what pre-freeze did');
    assert.deepEqual(hookLines().map((h) => h.hook), ['pre-freeze', 'post-thaw']);
    assert.equal(await backupCount(), backups, 'no backup recorded');
    await assertNothingLeft(checkpoints);
    await assertThawedAndWriting(fx.vm!.name);
  });

  guarded('--hook-timeout takes positive seconds only', async () => {
    const r = await vmbak(['backup', '--vm', fx.vm!.name, '--hook-timeout', 'soon', '--pre-freeze', 'true'], env());
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^vmbak: .*--hook-timeout soon/);
  });
});
