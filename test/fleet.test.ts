// A fleet of two simulated hosts (a libvirtd each, in its own mount namespace) with two paused
// OS-less VMs each, run through bench/fleet as `npm run fleet` runs it: a policy fires every
// 20 s; the first host's agent is killed (-9) in the middle of its first backup (held at its
// first pack upload) and started again; Redis is restarted while the other host's next job
// runs; a VM is moved to the other host (same UUID, same disk). Then: the killed job ran
// again and succeeded, no firing was lost or run twice, every VM's latest backup restores
// (`restore --verify`) to exactly its disk, no host (the killed agent's included) keeps a
// libvirt job, an extra checkpoint or bitmap, a run record or scratch file, the repository
// holds nothing gc would delete — and the moved VM's first backup on its new host read it in
// full and says why: its checkpoints stayed on the old host.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { redisUnavailable } from './support/redis.ts';
import { postgresUnavailable } from './support/postgres.ts';
import { DEFAULT_FLEET, runFleet } from '../bench/fleet/run.ts';

function simulatedHostsUnavailable(): string | null {
  let why: string | null = null;
  if (process.getuid?.() !== 0) why = 'simulated hosts need root (a libvirtd per host in a mount namespace)';
  else if (spawnSync('which', ['libvirtd', 'virsh', 'unshare', 'qemu-img']).status !== 0) why = 'libvirt is not installed (scripts/install-system-deps.sh)';
  if (why && process.env.CI === 'true') throw new Error(`simulated hosts unavailable under CI: ${why}`);
  return why;
}

test('a fleet of two hosts: agent kill -9 mid-backup, Redis restart, a VM moved — retried, nothing lost or twice, every restore verified, no leftovers', { timeout: 300_000 }, async (t) => {
  const unavailable = redisUnavailable() ?? postgresUnavailable() ?? simulatedHostsUnavailable();
  if (unavailable) return t.skip(unavailable);
  const lines: string[] = [];
  const r = await runFleet({
    ...DEFAULT_FLEET, hosts: 2, vmsPerHost: 2, durationSeconds: 12, everySeconds: 12, streams: 1,
    killAgent: true, restartRedis: true, migrateVm: true, log: (l) => lines.push(l),
  });
  const said = `${JSON.stringify(r, null, 1)}\n${lines.join('\n')}`;
  assert.equal(r.killedAgent?.host, 'sim0', said);
  assert.equal(r.killedAgent.jobState, 'succeeded', `the killed agent's job ran again and finished: ${said}`);
  assert.ok(r.hosts.sim0!.retried >= 1, said);
  assert.equal(r.redisRestart?.jobState, 'succeeded', said);
  assert.deepEqual(r.failures, [], said);
  assert.deepEqual(r.lost, [], said);
  assert.deepEqual(r.duplicated, [], said);
  assert.equal(Object.keys(r.vms).length, 4);
  for (const [name, vm] of Object.entries(r.vms)) {
    assert.ok(vm.backups >= 2, `${name}: ${vm.backups} backups`);
    assert.equal(vm.restoreVerified, true, `${name}: ${vm.detail}`);
  }
  assert.deepEqual(r.leftovers, [], said);
  assert.equal(r.migrated?.to, 'sim1', said);
  assert.equal(r.vms[r.migrated.vm]!.host, 'sim1');
  assert.match(r.migrated.backupOnNewHost ?? '', /\(full read: checkpoint \S+ no longer exists in libvirt \(the VM moved: its last backup was made on host sim0, whose checkpoints this host does not have\)\)$/, said);
  assert.match(r.migrated.bitmapsRemoved ?? '', /^removed dirty bitmaps no checkpoint of this host owns \(the VM moved here\): \S+\/vmbak-/, said);
  assert.equal(r.ok, true, said);
});
