// The API over the real Controller (a controller without a local agent, so no hypervisor is
// needed): health follows its start-up, a policy made through the API reaches its scheduler
// and previews the scheduler's own fire times, job submission is refused with the
// controller's reason as a problem, and the job stream subscribes to its job runner.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiToken, createJob, listJobEvents, listJobs, setJobState, upsertPolicy, upsertRepository } from '../catalog/index.ts';
import { Controller } from '../controller/index.ts';
import { createApiServer } from './api-server.ts';
import { listenApiServer } from './listen.ts';
import { callApi, readEvents } from './server-test-support.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

test('the API serves the real controller: readiness, policies into its scheduler, its refusals as problems, its job stream', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vmbak-api-controller-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const controller = await Controller.open({ dataDir, localAgent: false, streams: 1, log: quiet, schedulerTickMs: 60_000 });
  const app = createApiServer({ controller, logger: false });
  t.after(async () => {
    await app.close(); // before the controller, which closes the catalog
    await controller.stop();
  });
  const url = await listenApiServer(app, { host: '127.0.0.1', port: 0, tls: false });
  const admin = (await createApiToken(controller.catalog, { name: 'admin', role: 'admin' })).token;

  const starting = await callApi(url, 'GET', '/api/v1/health');
  assert.deepEqual([starting.status, starting.json.code], [503, 'NOT_READY']);
  await controller.start();
  assert.equal((await callApi(url, 'GET', '/api/v1/health')).status, 200);

  assert.equal((await callApi(url, 'POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: join(dataDir, 'repo') } })).status, 201);
  const policy = { name: 'web', vms: ['web*'], repositories: ['local'], schedule: '30 1 * * *', timezone: 'UTC' };
  assert.equal((await callApi(url, 'POST', '/api/v1/policies', { token: admin, body: policy })).status, 201);
  const preview = (await callApi(url, 'GET', '/api/v1/policies/web/preview?runs=2', { token: admin })).json;
  assert.equal(preview.nextRunsMs.length, 2);
  assert.ok(preview.nextRunsMs.every((ms: number) => new Date(ms).getUTCHours() === 1 && new Date(ms).getUTCMinutes() === 30));
  assert.equal(preview.nextRunsMs[1] - preview.nextRunsMs[0], 86_400_000);

  const refused = await callApi(url, 'POST', '/api/v1/jobs', { token: admin, body: { kind: 'prune', policy: 'web' } });
  assert.deepEqual([refused.status, refused.json.code], [409, 'JOB_NOT_RUNNING']);
  assert.match(refused.json.detail, /runs no local agent/);

  const events = await readEvents(url, '/api/v1/jobs/stream', admin, (e) => e.event === 'jobs');
  assert.deepEqual(events.map((e) => [e.event, e.data]), [['jobs', []]]);
});

test('a scheduled backup whose previous run still runs is skipped, and the running job\'s log says so', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vmbak-api-controller-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const controller = await Controller.open({ dataDir, localAgent: false, streams: 1, log: quiet, schedulerTickMs: 200 });
  t.after(() => controller.stop());
  const { catalog } = controller;
  await upsertRepository(catalog, controller.secrets, { name: 'local', url: join(dataDir, 'repo') });
  await upsertPolicy(catalog, { name: 'often', spec: { vms: ['web*'], repositories: ['local'], schedule: '* * * * * *' } });
  // The policy's previous run, still going (held by another controller sharing the catalog).
  const previous = await createJob(catalog, { kind: 'backup', policy: 'often', trigger: 'schedule', host: null });
  await setJobState(catalog, previous.id, 'running');
  await controller.start();
  const end = Date.now() + 10_000;
  while (Date.now() < end && !(await listJobEvents(catalog, previous.id)).some((e) => /skipped/.test(e.message))) await new Promise((r) => setTimeout(r, 100));
  assert.match((await listJobEvents(catalog, previous.id)).map((e) => e.message).join('\n'), /the firing of \S+ was skipped: this run has not finished/);
  assert.deepEqual((await listJobs(catalog, { policy: 'often' })).items.map((j) => j.id), [previous.id], 'no second job for the policy');
});
