import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPrune } from './prune.ts';
import type { Manifest } from './manifest.ts';

function backup(id: string, vm: string, time: string): Manifest {
  return {
    version: 1, backupId: id, vm: { key: vm, name: vm, uuid: null }, time, finishedAt: time, host: 'h', source: 'image',
    consistency: 'crash', incremental: false, fallbackReason: null, parentBackupId: null, checkpointId: null, domainXml: null,
    stateFiles: [], disks: [], skippedDisks: [], warnings: [], stats: { bytesRead: 0, bytesNew: 0, bytesStored: 0, durationMs: 0 },
  };
}

// Two backups a day for 40 days for vm a, one a day for 3 days for vm b.
const backups: Manifest[] = [];
for (let d = 0; d < 40; d++) {
  const day = new Date(Date.UTC(2026, 9, 1 + d)).toISOString().slice(0, 10);
  backups.push(backup(`a${d}m`, 'a', `${day}T02:00:00.000Z`), backup(`a${d}e`, 'a', `${day}T20:00:00.000Z`));
  if (d < 3) backups.push(backup(`b${d}`, 'b', `${day}T03:00:00.000Z`));
}

test('keep-last keeps the newest N of each VM', () => {
  const plan = planPrune(backups, { keepLast: 3 });
  assert.deepEqual(plan.keep.map((k) => k.manifest.backupId).sort(), ['a38e', 'a39e', 'a39m', 'b0', 'b1', 'b2'].sort());
  assert.equal(plan.remove.length, backups.length - 6);
});

test('daily/weekly/monthly keep the newest backup of each period', () => {
  const plan = planPrune(backups.filter((b) => b.vm.key === 'a'), { keepDaily: 7, keepWeekly: 4, keepMonthly: 3 });
  const kept = new Map(plan.keep.map((k) => [k.manifest.backupId, k.reasons]));
  for (let d = 33; d < 40; d++) assert.ok(kept.has(`a${d}e`), `evening of day ${d} kept as daily`);
  assert.ok(!kept.has('a39m'), 'the morning backup of the newest day is not the daily one');
  assert.ok(kept.get('a30e')?.includes('monthly 2026-10'), 'last backup of October kept as monthly');
  assert.ok([...kept.values()].some((r) => r.some((x) => x.startsWith('weekly 2026-W'))));
  assert.equal(plan.keep.length + plan.remove.length, 80);
});

test('a policy that keeps nothing is refused', () => {
  assert.throws(() => planPrune(backups, {}), /prune needs a retention rule/);
  assert.throws(() => planPrune(backups, { keepLast: 0 }), /prune needs a retention rule/);
});
