// Which VMs a selection means: exact names, UUIDs in any case, globs, tag:NAME; listing order,
// each VM once however many patterns match it; patterns that match nothing are reported (and
// are VM_NOT_FOUND for findVms).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesVmPattern, selectVms } from './vm-selection.ts';

const vm = (name: string, uuid: string, tags: string[] = []) => ({ name, uuid, tags });
const ALL = [
  vm('db1', 'aaaa-1', ['prod', 'db']),
  vm('web1', 'bbbb-2', ['prod']),
  vm('web2', 'cccc-3', ['dev']),
  vm('web10', 'dddd-4'),
  vm('odd.name[1]', 'eeee-5'),
];

test('matchesVmPattern: exact, glob, uuid, tag', () => {
  const web1 = ALL[1]!;
  assert.ok(matchesVmPattern(web1, 'web1'));
  assert.ok(!matchesVmPattern(web1, 'web'));
  assert.ok(matchesVmPattern(web1, 'web*'));
  assert.ok(matchesVmPattern(web1, 'w?b1'));
  assert.ok(!matchesVmPattern(web1, 'w?b'));
  assert.ok(matchesVmPattern(web1, 'BBBB-2'));
  assert.ok(matchesVmPattern(web1, 'tag:prod'));
  assert.ok(!matchesVmPattern(web1, 'tag:dev'));
  assert.ok(!matchesVmPattern(web1, 'tag:'));
});

test('matchesVmPattern: regular-expression characters in names are literal', () => {
  assert.ok(matchesVmPattern(ALL[4]!, 'odd.name[1]'));
  assert.ok(matchesVmPattern(ALL[4]!, 'odd.name[*'));
  assert.ok(!matchesVmPattern(vm('oddxname[1]', 'x'), 'odd.name[*'));
});

test('selectVms: listing order, each VM once, unmatched patterns kept in order', () => {
  const { vms, unmatched } = selectVms(ALL, ['tag:prod', 'web*', 'nope', 'db1', 'tag:none']);
  assert.deepEqual(vms.map((v) => v.name), ['db1', 'web1', 'web2', 'web10']);
  assert.deepEqual(unmatched, ['nope', 'tag:none']);
});

test('selectVms: no patterns select nothing; a glob may match every VM', () => {
  assert.deepEqual(selectVms(ALL, []), { vms: [], unmatched: [] });
  assert.equal(selectVms(ALL, ['*']).vms.length, ALL.length);
});
