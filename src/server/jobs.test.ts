// Jobs through the API: submitting work, steering it, verify and restore of a backup as jobs,
// and live updates as Server-Sent Events — the stream of all jobs and one job's stream, which
// replays its log, follows it and ends when it finishes. Streams let go of their subscription
// when the client leaves.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordBackups } from '../catalog/index.ts';
import { readEvents, startTestApi, type Json } from './server-test-support.ts';

async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the job stream delivers an update for a job submitted through the API', async (t) => {
  const api = await startTestApi(t);
  const running = (await api.call('POST', '/api/v1/jobs', { token: api.tokens.operator, body: { kind: 'gc', repository: 'local' } })).json;
  await api.controller.startJob(running.id);
  let submitted: Json;
  const events = await readEvents(api.url, '/api/v1/jobs/stream', api.tokens.viewer, (e) => e.event === 'update' && e.data.jobId === submitted?.id, {
    onOpen: async () => {
      await until('the stream to subscribe', () => api.controller.subscribers === 1);
      const answer = await api.call('POST', '/api/v1/jobs', { token: api.tokens.operator, body: { kind: 'backup', vms: ['web*'], repositories: ['local'] } });
      assert.equal(answer.status, 202, answer.text);
      submitted = answer.json;
    },
  });
  assert.equal(events[0]!.event, 'jobs');
  assert.deepEqual(events[0]!.data.map((j: Json) => [j.id, j.state]), [[running.id, 'running']]);
  const update = events.at(-1)!.data;
  assert.deepEqual([update.jobId, update.kind, update.state, update.message], [submitted.id, 'backup', 'queued', 'queued by token:test-operator']);
  await until('the stream to let go of its subscription', () => api.controller.subscribers === 0);
  assert.deepEqual(api.controller.submitted.at(-1), { request: { kind: 'backup', vms: ['web*'], repositories: ['local'] }, actor: 'token:test-operator' });
});

test('a job\'s stream replays its log, follows pause, resume and abort, and ends when the job does', async (t) => {
  const api = await startTestApi(t);
  const operator = api.tokens.operator;
  const job = (await api.call('POST', '/api/v1/jobs', { token: operator, body: { kind: 'verify', repository: 'local' } })).json;
  const paused = await api.call('POST', `/api/v1/jobs/${job.id}/pause`, { token: operator });
  assert.equal(paused.status, 409, 'a queued job cannot be paused');
  assert.equal(paused.json.code, 'JOB_NOT_RUNNING');
  await api.controller.startJob(job.id);
  await api.controller.logLine(job.id, 'reading pack 1 of 3');

  const events = await readEvents(api.url, `/api/v1/jobs/${job.id}/events`, api.tokens.viewer, () => false, {
    onOpen: async () => {
      await until('the stream to subscribe', () => api.controller.subscribers === 1);
      for (const action of ['pause', 'resume', 'abort']) {
        const answer = await api.call('POST', `/api/v1/jobs/${job.id}/${action}`, { token: operator });
        assert.equal(answer.status, 200, answer.text);
      }
    },
  });
  assert.deepEqual(events.map((e) => [e.event, e.data.state ?? e.data.message]), [
    ['job', 'running'], ['log', 'reading pack 1 of 3'], ['update', 'paused'], ['update', 'running'], ['update', 'aborted'],
  ]);
  // A finished job's stream is its record and log, then the end.
  const replay = await readEvents(api.url, `/api/v1/jobs/${job.id}/events`, api.tokens.viewer, () => false);
  assert.deepEqual(replay.map((e) => e.event), ['job', 'log']);

  const retry = await api.call('POST', `/api/v1/jobs/${job.id}/retry`, { token: operator });
  assert.equal(retry.status, 202);
  assert.deepEqual([retry.json.trigger, retry.json.params.retryOf], ['retry', job.id]);
  const detail = (await api.call('GET', `/api/v1/jobs/${job.id}`, { token: api.tokens.viewer })).json;
  assert.deepEqual([detail.job.state, detail.events.map((e: Json) => e.message), detail.vms], ['aborted', ['reading pack 1 of 3'], []]);
  const audit = (await api.call('GET', '/api/v1/audit', { token: api.tokens.admin })).json.items as Json[];
  assert.deepEqual(audit.map((e) => [e.action, e.actor, e.target]).reverse(), [
    ['job.verify', 'token:test-operator', job.id], ['job.pause', 'token:test-operator', job.id], ['job.resume', 'token:test-operator', job.id],
    ['job.abort', 'token:test-operator', job.id], ['job.retry', 'token:test-operator', job.id],
  ], 'one entry per action: the controller\'s');
  assert.equal(audit[0].detail.retry, retry.json.id);
});

test('verify and restore of a backup become jobs; the dashboard counts jobs and shows the active ones', async (t) => {
  const api = await startTestApi(t);
  const operator = api.tokens.operator;
  await api.call('POST', '/api/v1/repositories', { token: api.tokens.admin, body: { name: 'local', url: '/srv/vmbak' } });
  await recordBackups(api.controller.catalog, [{
    repository: 'local', backupId: 'b1', vmKey: 'web01', vmUuid: null, vmName: 'web01', host: 'host-a', timeMs: api.clock.nowMs(),
    logicalBytes: 10, newBytes: 10, storedBytes: 5, consistency: 'crash', incremental: false,
  }]);
  const listed = (await api.call('GET', '/api/v1/backups?vm=web01&repository=local', { token: api.tokens.viewer })).json;
  assert.deepEqual([listed.total, listed.items[0].backupId], [1, 'b1']);
  const verify = await api.call('POST', '/api/v1/backups/local/b1/verify', { token: operator });
  assert.equal(verify.status, 202);
  assert.deepEqual([verify.json.kind, verify.json.params], ['verify', { kind: 'verify', repository: 'local', backups: ['b1'] }]);
  const both = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { toDir: '/restore', asVm: 'web01-copy' } });
  assert.deepEqual([both.status, both.json.field], [400, 'body.toDir']);
  const restore = await api.call('POST', '/api/v1/backups/local/b1/restore', { token: operator, body: { asVm: 'web01-copy', noNetwork: true } });
  assert.equal(restore.status, 202);
  assert.deepEqual(restore.json.params, { kind: 'restore', repository: 'local', backup: 'b1', asVm: 'web01-copy', noNetwork: true });
  assert.equal((await api.call('POST', '/api/v1/backups/local/nope/restore', { token: operator, body: { toDir: '/r' } })).json.code, 'BACKUP_NOT_FOUND');
  const audit = (await api.call('GET', '/api/v1/audit', { token: api.tokens.admin })).json.items as Json[];
  assert.deepEqual(audit.filter((e) => e.action === 'job.restore').map((e) => [e.actor, e.target, e.detail.backup, e.detail.asVm]),
    [['token:test-operator', restore.json.id, 'b1', 'web01-copy']]);

  await api.controller.startJob(verify.json.id);
  const dashboard = (await api.call('GET', '/api/v1/dashboard', { token: api.tokens.viewer })).json;
  assert.deepEqual(dashboard.jobsLast24h, { queued: 1, running: 1 });
  assert.deepEqual(dashboard.activeJobs.map((j: Json) => [j.kind, j.state]), [['verify', 'running'], ['restore', 'queued']]);
  assert.deepEqual(dashboard.protection, { vms: 0, protectedVms: 0, unprotectedVms: 0, rpoMet: 0, rpoMissed: 0, noRpo: 0, missed: [] });
  const running = (await api.call('GET', '/api/v1/jobs?state=running', { token: api.tokens.viewer })).json;
  assert.deepEqual(running.items.map((j: Json) => j.id), [verify.json.id]);
});

test('closing the server ends the open event streams instead of waiting for their clients', async (t) => {
  const api = await startTestApi(t);
  let closedMs = 0;
  const events = await readEvents(api.url, '/api/v1/jobs/stream', api.tokens.viewer, () => false, {
    onOpen: async () => {
      const startMs = Date.now();
      await api.close();
      closedMs = Date.now() - startMs;
    },
  });
  assert.deepEqual(events.map((e) => e.event), ['jobs']);
  assert.ok(closedMs < 1000, `close took ${closedMs} ms`);
  assert.equal(api.controller.subscribers, 0);
});
