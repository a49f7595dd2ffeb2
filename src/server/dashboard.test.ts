// The dashboard's upcoming runs (the next fire times of the enabled policies, soonest first)
// and recent alerts (the newest warnings and errors of the event log, not its info lines).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordEvent } from '../catalog/index.ts';
import { startTestApi, type Json } from './server-test-support.ts';

test('the dashboard lists upcoming runs of enabled policies and recent warnings and errors', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  assert.equal((await api.call('POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: '/srv/vmbak' } })).status, 201);
  const policy = (name: string, schedule: string, enabled = true) => ({ name, enabled, vms: [`${name}*`], repositories: ['local'], schedule, timezone: 'UTC' });
  for (const body of [policy('sixhourly', '15 */6 * * *'), policy('daily', '0 2 * * *'), policy('off', '* * * * *', false)]) {
    assert.equal((await api.call('POST', '/api/v1/policies', { token: admin, body })).status, 201);
  }
  const { catalog } = api.controller;
  await recordEvent(catalog, { kind: 'job.succeeded', severity: 'info', key: 'j1', message: 'fine' });
  await recordEvent(catalog, { kind: 'rpo.missed', severity: 'warning', key: 'web01', message: 'web01 missed its RPO' });
  await recordEvent(catalog, { kind: 'job.failed', severity: 'error', key: 'j2', message: 'job j2 failed' });

  const dashboard = (await api.call('GET', '/api/v1/dashboard', { token: api.tokens.viewer })).json;
  const runs = dashboard.upcomingRuns as Json[];
  assert.equal(runs.length, 10);
  assert.ok(runs.every((r, i) => i === 0 || runs[i - 1].timeMs <= r.timeMs), 'soonest first');
  assert.deepEqual([...new Set(runs.map((r) => r.policy))].sort(), ['daily', 'sixhourly'], 'a disabled policy has no upcoming runs (10 runs span two days: both policies fire)');
  assert.ok(runs.filter((r) => r.policy === 'sixhourly').every((r) => new Date(r.timeMs).getUTCMinutes() === 15));
  assert.deepEqual(dashboard.recentAlerts.map((e: Json) => [e.severity, e.message]), [['error', 'job j2 failed'], ['warning', 'web01 missed its RPO']]);
});
