// Quiesce with a real guest agent: a tiny real guest (Debian kernel + busybox initramfs, TCG)
// keeps writing to its ext4 disk and runs qemu-ga. `vmbak backup --quiesce require` freezes
// that filesystem for the backup's instant and records `filesystem` consistency; the restored
// disk verifies, is a clean ext4 (a frozen filesystem has its journal flushed, a crash-consistent
// copy of a busy one does not) and holds the guest's writes; afterwards the guest is thawed and
// still writing. The CLI is the real one, run as a user would.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { virshTest } from './support/libvirt.ts';
import { agentCommand, readGuestFile } from './support/guest.ts';
import { jsonLine, vmbak } from './support/vmbak-cli.ts';
import { guestFixture, startGuestFixture, stopGuestFixture } from './support/guest-fixture.ts';

const run = promisify(execFile);

interface BackupJson { backupId: string; vm: string; consistency: string; warnings: string[]; disks: { name: string; bytesRead: number }[] }
interface RestoreJson { backupId: string; disks: { name: string; path: string; sizeBytes: number; verified?: boolean }[] }

let backup: BackupJson | undefined;
const fx = guestFixture('quiesce');
const { tmp, env } = fx;

const counter = async (): Promise<number> => Number((await readGuestFile(fx.vm!.name, '/mnt/counter')).trim());

async function waitForCounterAbove(n: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await counter().catch(() => 0);
    if (c > n) return c;
    if (Date.now() > deadline) throw new Error(`the guest's write counter stayed at ${c} (≤ ${n}) for ${timeoutMs} ms: is /mnt frozen?`);
    await sleep(250);
  }
}

describe('quiesce through a real guest agent', { concurrency: false }, () => {
  before(() => startGuestFixture(fx, 'quiesce'));
  after(() => stopGuestFixture(fx));

  test('the guest writes to its ext4 on /mnt and its agent sees that filesystem', async (t) => {
    if (fx.unavailable) { t.skip(fx.unavailable); return; }
    try {
      const fs = await agentCommand<{ mountpoint: string; type: string }[]>(fx.vm!.name, 'guest-get-fsinfo');
      assert.ok(fs.some((f) => f.mountpoint === '/mnt' && f.type === 'ext4'), `guest-get-fsinfo: ${JSON.stringify(fs)}`);
      assert.equal(await agentCommand(fx.vm!.name, 'guest-fsfreeze-status'), 'thawed');
      await waitForCounterAbove(await counter().catch(() => 0));
    } catch (err) { fx.failed = true; throw err; }
  });

  test('backup --quiesce require of the running guest records filesystem consistency and leaves it thawed and writing', async (t) => {
    if (fx.unavailable) { t.skip(fx.unavailable); return; }
    try {
      const r = await vmbak(['backup', '--vm', fx.vm!.name, '--quiesce', 'require', '--json', '--no-progress'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      backup = jsonLine<BackupJson>(r);
      assert.equal(backup.vm, fx.vm!.name);
      assert.equal(backup.consistency, 'filesystem');
      assert.deepEqual(backup.warnings, []);
      assert.deepEqual(backup.disks.map((d) => d.name), ['vda']);
      assert.ok(backup.disks[0]!.bytesRead > 0);
      assert.equal((await virshTest('domstate', fx.vm!.name)).trim(), 'running');
      await agentCommand(fx.vm!.name, 'guest-ping');
      assert.equal(await agentCommand(fx.vm!.name, 'guest-fsfreeze-status'), 'thawed');
      await waitForCounterAbove(await counter());
      const ls = await vmbak(['backups', 'ls', '--json'], env);
      assert.equal(ls.code, 0, ls.stderr);
      const listed = JSON.parse(ls.stdout) as { backupId: string; consistency: string }[];
      const row = listed.find((b) => b.backupId === backup!.backupId);
      assert.ok(row, `backups ls lists ${backup.backupId}`);
      assert.equal(row.consistency, 'filesystem', 'the manifest records it');
    } catch (err) { fx.failed = true; throw err; }
  });

  test('the quiesced backup restores with --verify to a clean ext4 holding the guest\'s writes', async (t) => {
    if (fx.unavailable) { t.skip(fx.unavailable); return; }
    try {
      assert.ok(backup, 'the backup test ran');
      const out = join(tmp.dir, 'restored');
      const r = await vmbak(['restore', backup.backupId, '--to', out, '--verify', '--json', '--no-progress'], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const restored = jsonLine<RestoreJson>(r);
      const vda = restored.disks.find((d) => d.name === 'vda');
      assert.ok(vda, r.stdout);
      assert.equal(vda.verified, true);
      assert.equal(vda.sizeBytes, fx.vm!.diskBytes);
      // Frozen at the instant: journal flushed and needs_recovery cleared (a crash-consistent copy
      // of the mounted ext4 has it set and fsck says it skips journal recovery), nothing to fix.
      const { stdout: sb } = await run('dumpe2fs', ['-h', vda.path]);
      const features = /^Filesystem features:\s*(.*)$/m.exec(sb)?.[1] ?? '';
      assert.match(features, /has_journal/);
      assert.doesNotMatch(features, /needs_recovery/, 'the restored ext4 needs no journal recovery');
      const fsck = await run('e2fsck', ['-fn', vda.path]).then((o) => ({ code: 0, out: o.stdout + o.stderr }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }));
      assert.equal(fsck.code, 0, `e2fsck -fn of the restored disk: ${fsck.out}`);
      assert.doesNotMatch(fsck.out, /journal recovery/);
      const { stdout: dumped } = await run('debugfs', ['-R', 'cat /counter', vda.path]);
      const n = Number(dumped.trim());
      assert.ok(Number.isInteger(n) && n > 0, `restored /counter holds the guest's writes: ${JSON.stringify(dumped)}`);
      const { stdout: log } = await run('debugfs', ['-R', 'cat /writes.log', vda.path]);
      // The writer appends "write N", then sets the counter to N: one instant holds both.
      const lastLine = log.trimEnd().split('\n').at(-1);
      assert.ok(lastLine === `write ${n}` || lastLine === `write ${n + 1}`, `log ends with ${JSON.stringify(lastLine)}, counter is ${n}`);
      assert.ok(n < await counter(), 'the guest has written on since the backup');
    } catch (err) { fx.failed = true; throw err; }
  });
});
