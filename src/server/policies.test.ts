// Policies through the API: create, read, replace, delete — each followed by a policy reload
// and an audit entry — with references checked; the ones a real config file declares are
// read-only (409 MANAGED_BY_CONFIG); the preview shows the VMs a policy matches now, the ones
// another policy also claims, and the next runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyConfig, loadConfigFile } from '../config/index.ts';
import type { VmInfo } from '../core/index.ts';
import { startTestApi, type Json } from './server-test-support.ts';

const vm = (uuid: string, name: string, tags: string[] = []): VmInfo => ({ uuid, name, state: 'running', host: 'host-a', disks: [], tags });
const WEB = { name: 'web', vms: ['web*'], repositories: ['local'], schedule: '0 2 * * *', timezone: 'UTC', rpo: '26h', retention: { keepDaily: 7 } };

test('policies are created, replaced and deleted through the API, each change reloaded and audited', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  assert.equal((await api.call('POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: '/srv/vmbak' } })).status, 201);
  assert.equal(api.controller.reloads, 1, 'a new repository brings its care schedule');

  const created = await api.call('POST', '/api/v1/policies', { token: admin, body: WEB });
  assert.equal(created.status, 201, created.text);
  assert.deepEqual({ ...created.json, createdMs: 0, updatedMs: 0 }, {
    name: 'web', enabled: true, managedByConfig: false, createdMs: 0, updatedMs: 0,
    status: { state: 'degraded', vmCount: 0, unmatched: ['web*'], conflicts: [] },
    spec: { vms: ['web*'], repositories: ['local'], spread: false, copyTo: [], schedule: '0 2 * * *', timezone: 'UTC', rpo: '26h', retention: { keepDaily: 7 }, quiesce: 'auto', excludeDisks: [] },
  });
  assert.equal(api.controller.reloads, 2);
  assert.equal((await api.call('POST', '/api/v1/policies', { token: admin, body: WEB })).json.code, 'CATALOG_CONFLICT');

  const { name: _name, ...spec } = WEB;
  const replaced = await api.call('PUT', '/api/v1/policies/web', { token: admin, body: { ...spec, schedule: '*/20 * * * * *', enabled: false } });
  assert.equal(replaced.status, 200, replaced.text);
  assert.deepEqual([replaced.json.enabled, replaced.json.spec.schedule], [false, '*/20 * * * * *']);
  assert.equal(api.controller.reloads, 3);
  assert.equal((await api.call('GET', '/api/v1/policies/web', { token: api.tokens.viewer })).json.spec.schedule, '*/20 * * * * *');
  assert.equal((await api.call('PUT', '/api/v1/policies/nope', { token: admin, body: spec })).status, 404);

  const inUse = await api.call('DELETE', '/api/v1/repositories/local', { token: admin });
  assert.equal(inUse.status, 409);
  assert.match(inUse.json.detail, /named by policy web/);

  assert.equal((await api.call('DELETE', '/api/v1/policies/web', { token: admin })).status, 204);
  assert.equal((await api.call('GET', '/api/v1/policies/web', { token: admin })).status, 404);
  assert.equal(api.controller.reloads, 4);

  const audit = (await api.call('GET', '/api/v1/audit', { token: admin })).json.items as Json[];
  assert.deepEqual(audit.filter((e) => e.action.startsWith('policy.')).map((e) => [e.action, e.actor, e.target]).reverse(), [
    ['policy.create', 'token:test-admin', 'web'], ['policy.update', 'token:test-admin', 'web'], ['policy.delete', 'token:test-admin', 'web'],
  ]);
  assert.equal(audit.find((e) => e.action === 'policy.update').detail.request.schedule, '*/20 * * * * *');
});

test('what the config file declares is shown but read-only through the API', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  const file = join(api.dataDir, 'vmbak.yaml');
  writeFileSync(join(api.dataDir, 'local.pass'), 'config passphrase\n');
  writeFileSync(file, [
    'repositories:',
    '  - { name: local, url: /srv/vmbak, passphraseFile: local.pass }',
    'policies:',
    '  - { name: nightly, vms: ["db*"], repositories: [local], schedule: "0 3 * * *" }',
    'alerts:',
    '  channels:',
    '    - { name: hook, type: webhook, url: "https://hooks.example.com/vmbak" }',
    '  rules:',
    '    - { name: failures, events: [job.failed], channels: [hook] }',
  ].join('\n'));
  await applyConfig(api.controller.catalog, api.controller.secrets, await loadConfigFile(file));

  const nightly = await api.call('GET', '/api/v1/policies/nightly', { token: api.tokens.viewer });
  assert.deepEqual([nightly.json.managedByConfig, nightly.json.spec.schedule], [true, '0 3 * * *']);
  const { name: _name, ...spec } = { ...WEB, vms: ['db*'] };
  for (const [method, path, body] of [
    ['PUT', '/api/v1/policies/nightly', spec], ['DELETE', '/api/v1/policies/nightly', undefined],
    ['PUT', '/api/v1/repositories/local', { url: '/elsewhere' }], ['DELETE', '/api/v1/repositories/local', undefined],
    ['PUT', '/api/v1/alerts/channels/hook', { type: 'webhook', url: 'https://elsewhere.example.com/' }], ['DELETE', '/api/v1/alerts/channels/hook', undefined],
    ['PUT', '/api/v1/alerts/rules/failures', { events: ['*'], channels: ['hook'] }], ['DELETE', '/api/v1/alerts/rules/failures', undefined],
  ] as const) {
    const answer = await api.call(method, path, { token: admin, body });
    assert.equal(answer.status, 409, `${method} ${path}: ${answer.text}`);
    assert.equal(answer.json.code, 'MANAGED_BY_CONFIG');
    assert.match(answer.json.detail, /is managed by the config file and read-only through the API; change it in the file$/);
  }
  assert.equal((await api.call('GET', '/api/v1/policies/nightly', { token: admin })).json.spec.schedule, '0 3 * * *');
  assert.equal(api.controller.reloads, 0);
  // The API may still add its own policies beside the file's, on the file's repositories.
  assert.equal((await api.call('POST', '/api/v1/policies', { token: admin, body: WEB })).status, 201);
  assert.deepEqual((await api.call('GET', '/api/v1/policies', { token: admin })).json.items.map((p: Json) => [p.name, p.managedByConfig]),
    [['nightly', true], ['web', false]]);
});

test('the preview lists the VMs a policy matches now, conflicts with other policies, and its next runs', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  api.controller.inventory = [
    vm('00000000-0000-4000-8000-000000000001', 'web01', ['prod']), vm('00000000-0000-4000-8000-000000000002', 'web02'),
    vm('00000000-0000-4000-8000-000000000003', 'db01', ['prod']),
  ];
  assert.equal((await api.call('POST', '/api/v1/vms/sync', { token: api.tokens.operator })).status, 204);
  await api.call('POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: '/srv/vmbak' } });
  await api.call('POST', '/api/v1/policies', { token: admin, body: { ...WEB, vms: ['web*', 'mail*'], schedule: '0 */6 * * *' } });
  await api.call('POST', '/api/v1/policies', { token: admin, body: { ...WEB, name: 'prod', vms: ['tag:prod'] } });

  const preview = await api.call('GET', '/api/v1/policies/web/preview?runs=3', { token: api.tokens.viewer });
  assert.equal(preview.status, 200, preview.text);
  assert.deepEqual(preview.json.vms.map((v: Json) => v.name), ['web01', 'web02']);
  assert.deepEqual(preview.json.unmatched, ['mail*']);
  assert.deepEqual(preview.json.conflicts, [{ uuid: '00000000-0000-4000-8000-000000000001', name: 'web01', policies: ['prod'] }]);
  // The conflict is shown on both policies, in the list and on each one.
  const listed = (await api.call('GET', '/api/v1/policies', { token: api.tokens.viewer })).json.items as Json[];
  assert.deepEqual(listed.map((p) => [p.name, p.status.state, p.status.vmCount, p.status.conflicts.map((c: Json) => `${c.name}:${c.policies}`)]), [
    ['prod', 'conflict', 2, ['web01:web']], ['web', 'conflict', 2, ['web01:prod']],
  ]);
  assert.deepEqual((await api.call('GET', '/api/v1/policies/prod', { token: api.tokens.viewer })).json.status.conflicts,
    [{ uuid: '00000000-0000-4000-8000-000000000001', name: 'web01', policies: ['web'] }]);
  const runs = preview.json.nextRunsMs as number[];
  assert.equal(runs.length, 3);
  assert.ok(runs.every((ms, i) => ms > api.clock.nowMs() && new Date(ms).getUTCHours() % 6 === 0 && (i === 0 || ms - runs[i - 1]! === 6 * 3_600_000)));

  const vms = (await api.call('GET', '/api/v1/vms?tag=prod', { token: api.tokens.viewer })).json;
  assert.deepEqual([vms.total, vms.items.map((v: Json) => v.name)], [2, ['db01', 'web01']]);
  const byUuid = (await api.call('GET', '/api/v1/vms?vm=00000000-0000-4000-8000-000000000002', { token: api.tokens.viewer })).json;
  assert.deepEqual(byUuid.items.map((v: Json) => v.name), ['web02']);
  assert.equal((await api.call('GET', '/api/v1/vms/db01', { token: api.tokens.viewer })).json.uuid, '00000000-0000-4000-8000-000000000003');
});
