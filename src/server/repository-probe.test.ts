// The API's questions that change nothing and the restore modes the console added, through a
// real socket against a real repository on disk: the connection test (ok, a wrong passphrase,
// no repository there — each an answer of 200, the passphrase redacted in the audit log), the
// prune preview's refusal of a retention without rules and of an unknown repository, in-place
// restore refused without the VM's name typed, and downloads refused without a local agent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordBackups } from '../catalog/index.ts';
import { Repository } from '../repository/index.ts';
import { LocalTarget } from '../targets/index.ts';
import { startTestApi, type Json } from './server-test-support.ts';

test('connection test, prune preview refusals, in-place confirmation and downloads without a local agent', async (t) => {
  const api = await startTestApi(t);
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-probe-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repoDir = join(dir, 'repo');
  await Repository.init(new LocalTarget(repoDir), { passphrase: 'probe pass' });
  const admin = api.tokens.admin;

  const ok = await api.call('POST', '/api/v1/repositories/test', { token: admin, body: { url: repoDir, credentials: { passphrase: 'probe pass' } } });
  assert.deepEqual([ok.status, ok.json.ok, typeof ok.json.repositoryId], [200, true, 'string']);
  const wrong = await api.call('POST', '/api/v1/repositories/test', { token: admin, body: { url: repoDir, credentials: { passphrase: 'not it' } } });
  assert.deepEqual([wrong.status, wrong.json.ok], [200, false]);
  assert.match(wrong.json.error, /\S/);
  assert.doesNotMatch(wrong.json.error, /\n/, 'one line');
  const missing = await api.call('POST', '/api/v1/repositories/test', { token: admin, body: { url: join(dir, 'none'), credentials: { passphrase: 'x' } } });
  assert.deepEqual([missing.json.ok, missing.json.code], [false, 'REPO_NOT_FOUND']);
  const audit = (await api.call('GET', '/api/v1/audit', { token: admin })).json.items as Json[];
  const tested = audit.filter((e) => e.action === 'repository.test');
  assert.equal(tested.length, 3);
  assert.ok(!JSON.stringify(tested).includes('probe pass'), 'the passphrase is not in the audit log');

  await api.call('POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: repoDir, credentials: { passphrase: 'probe pass' } } });
  const noRules = await api.call('GET', '/api/v1/repositories/local/prune-preview', { token: api.tokens.viewer });
  assert.deepEqual([noRules.status, noRules.json.field], [400, 'query.keepLast']);
  const empty = await api.call('GET', '/api/v1/repositories/local/prune-preview?keepLast=2', { token: api.tokens.viewer });
  assert.deepEqual([empty.status, empty.json], [200, { keep: [], remove: [] }]);
  assert.equal((await api.call('GET', '/api/v1/repositories/nope/prune-preview?keepLast=2', { token: api.tokens.viewer })).json.code, 'CATALOG_NOT_FOUND');

  await recordBackups(api.controller.catalog, [{
    repository: 'local', backupId: 'b1', vmKey: 'web01', vmUuid: null, vmName: 'web01', host: 'host-a', timeMs: api.clock.nowMs(),
    logicalBytes: 10, newBytes: 10, storedBytes: 5, consistency: 'crash', incremental: false,
  }]);
  const operator = api.tokens.operator;
  const unconfirmed = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { inPlace: true, confirmVmName: 'web02' } });
  assert.deepEqual([unconfirmed.status, unconfirmed.json.code], [400, 'CONFIRMATION_MISMATCH']);
  const twoModes = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { inPlace: true, confirmVmName: 'web01', asVm: 'x' } });
  assert.equal(twoModes.status, 400);
  const confirmed = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { inPlace: true, confirmVmName: 'web01' } });
  assert.equal(confirmed.status, 202);
  assert.deepEqual(confirmed.json.params, { kind: 'restore', repository: 'local', backup: 'b1', inPlace: true, confirmVmName: 'web01' });
  assert.equal(api.controller.submitted.length, 1, 'only the confirmed restore was queued');

  const noDisk = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { download: true } });
  assert.deepEqual([noDisk.status, noDisk.json.field], [400, 'body.disk']);
  const noAgent = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { download: true, disk: 'vda' } });
  assert.deepEqual([noAgent.status, noAgent.json.code], [400, 'USAGE']);
  const notDownload = await api.call('GET', `/api/v1/jobs/${confirmed.json.id}/download`, { token: operator });
  assert.deepEqual([notDownload.status, notDownload.json.code], [409, 'JOB_NOT_RUNNING']);
});
