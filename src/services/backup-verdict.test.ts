// The "completed with warnings" policy: what a run of many VMs amounts to, the same for the
// CLI's exit code and the API's job state.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VmbakError } from '../core/index.ts';
import type { VmOutcome } from '../engine/index.ts';
import type { Manifest } from '../repository/index.ts';
import { judgeBackupRun } from './backup-verdict.ts';

function recorded(name: string, fields: Partial<Pick<Manifest, 'consistency' | 'warnings'>> = {}, copies: VmOutcome['copies'] = []): VmOutcome {
  const manifest = { backupId: `b-${name}`, consistency: 'filesystem', warnings: [], ...fields } as unknown as Manifest;
  return { vm: { key: name, name, uuid: null }, manifest, repo: '/repo', error: null, events: [], copies };
}

function failed(name: string, error: VmbakError | null): VmOutcome {
  return { vm: { key: name, name, uuid: null }, manifest: null, repo: null, error, events: [], copies: [] };
}

const copy = (repo: string, ok: boolean) => ({ repo, ok, error: ok ? null : 'unreachable', backupId: ok ? 'c1' : null, bytesNew: 0 });

test('every VM recorded, copies written, no hooks: succeeded', () => {
  const v = judgeBackupRun([recorded('a'), recorded('b', {}, [copy('/copy', true)])]);
  assert.deepEqual(v, { status: 'succeeded', error: null, failures: [] });
});

test('a missing copy is a warning (exit 3) naming the VM and the repository', () => {
  const v = judgeBackupRun([recorded('a', {}, [copy('/copy', false)]), recorded('b')]);
  assert.equal(v.status, 'warning');
  assert.equal(v.error?.code, 'COMPLETED_WITH_WARNINGS');
  assert.equal(v.error?.exitCode, 3);
  assert.match(v.error!.message, /1 copy\(ies\) missing \(a to \/copy\)/);
});

test('some VMs failed, some recorded: a warning listing the failures, in order', () => {
  const boom = new VmbakError('VM_NOT_SHUT_OFF', { vm: 'b', op: 'x', state: 'running' });
  const v = judgeBackupRun([recorded('a'), failed('b', boom), failed('c', null)]);
  assert.equal(v.status, 'warning');
  assert.equal(v.error?.exitCode, 3);
  assert.match(v.error!.message, /2 of 3 VMs failed \(b, c\)/);
  assert.deepEqual(v.failures.map((f) => [f.vm, f.error]), [['b', boom], ['c', null]]);
});

test('every VM failed: failed, with the first failure\'s own error and code', () => {
  const first = new VmbakError('TARGET_FULL', { target: '/repo', detail: 'no space' });
  const v = judgeBackupRun([failed('a', first), failed('b', new VmbakError('ABORTED', { signal: 'SIGTERM' }))]);
  assert.equal(v.status, 'failed');
  assert.equal(v.error, first);
  assert.equal(v.failures.length, 2);
  assert.equal(judgeBackupRun([failed('a', null)]).error?.code, 'INTERNAL');
});

test('with hooks, a backup short of application-consistent, or with warnings, is a warning', () => {
  const hooks = { preFreeze: '/bin/true' };
  const v = judgeBackupRun([recorded('a', { consistency: 'filesystem', warnings: ['pre-freeze hook failed'] }), recorded('b', { consistency: 'application' })], hooks);
  assert.equal(v.status, 'warning');
  assert.match(v.error!.message, /a is filesystem-consistent, not application-consistent: pre-freeze hook failed/);
  assert.doesNotMatch(v.error!.message, /\bb\b/);
  // post-thaw only: consistency is not asked for, but a warning still counts.
  const thaw = judgeBackupRun([recorded('a', { consistency: 'crash', warnings: ['post-thaw hook timed out'] })], { postThaw: '/bin/true' });
  assert.equal(thaw.status, 'warning');
  assert.doesNotMatch(thaw.error!.message, /not application-consistent/);
  assert.equal(judgeBackupRun([recorded('a', { consistency: 'crash' })], { postThaw: '/bin/true' }).status, 'succeeded');
});

test('without hooks, crash-consistent backups and session warnings are not the run\'s warnings', () => {
  assert.equal(judgeBackupRun([recorded('a', { consistency: 'crash', warnings: ['guest agent did not answer'] })]).status, 'succeeded');
});

test('hook shortfalls and missing copies are reported together; failures take precedence', () => {
  const both = judgeBackupRun([recorded('a', { consistency: 'crash' }, [copy('/c', false)])], { preFreeze: 'x' });
  assert.match(both.error!.message, /a is crash-consistent.*; backed up, but 1 copy\(ies\) missing/);
  const withFailure = judgeBackupRun([recorded('a', { consistency: 'crash' }), failed('b', null)], { preFreeze: 'x' });
  assert.match(withFailure.error!.message, /1 of 2 VMs failed \(b\)/);
});
