// Errors are RFC 9457 problems with the registry's code and status: a request that fails its
// schema names the field, an unknown route or item is a 404 problem, an unready controller a
// 503 — and lists page with {items, total, next}.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorRegistry } from '../core/index.ts';
import { startTestApi, type ApiAnswer } from './server-test-support.ts';

function assertProblem(answer: ApiAnswer, code: keyof typeof errorRegistry, field?: string): void {
  assert.match(answer.headers.get('content-type') ?? '', /^application\/problem\+json(;|$)/, answer.text);
  assert.equal(answer.status, errorRegistry[code].httpStatus, answer.text);
  const { type, title, status, detail, code: got, instance } = answer.json;
  assert.equal(type, `urn:vmbak:error:${code}`);
  assert.equal(got, code);
  assert.equal(status, answer.status);
  assert.ok(typeof title === 'string' && title.length > 0);
  assert.ok(typeof detail === 'string' && !detail.includes('\n') && !/\bat .*\.ts:\d+/.test(detail), detail);
  assert.ok(typeof instance === 'string' && instance.startsWith('/api/v1'));
  assert.equal(answer.json.field, field);
}

const policy = { name: 'web', vms: ['web*'], repositories: ['local'], schedule: '0 2 * * *' };

test('a request that fails its schema is a 400 problem naming the field', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  await api.call('POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: '/srv/vmbak' } });

  const noSchedule = await api.call('POST', '/api/v1/policies', { token: admin, body: { ...policy, schedule: undefined } });
  assertProblem(noSchedule, 'INVALID_REQUEST', 'body.schedule');
  const cron = await api.call('POST', '/api/v1/policies', { token: admin, body: { ...policy, schedule: '0 2 * *' } });
  assertProblem(cron, 'INVALID_REQUEST', 'body.schedule');
  assert.match(cron.json.detail, /^invalid request: body\.schedule: cron "0 2 \* \*" has 4 fields/);
  assertProblem(await api.call('POST', '/api/v1/policies', { token: admin, body: { ...policy, retention: { keepDaily: -1 } } }), 'INVALID_REQUEST', 'body.retention.keepDaily');
  assertProblem(await api.call('POST', '/api/v1/policies', { token: admin, body: { ...policy, keepDialy: 7 } }), 'INVALID_REQUEST', 'body.keepDialy');
  assertProblem(await api.call('POST', '/api/v1/policies', { token: admin, body: { ...policy, repositories: ['local', 'nowhere'] } }), 'INVALID_REQUEST', 'body.repositories[1]');
  assertProblem(await api.call('POST', '/api/v1/policies', { token: admin, body: 'not an object' }), 'INVALID_REQUEST', 'body');
  assertProblem(await api.call('GET', '/api/v1/jobs?limit=5000', { token: admin }), 'INVALID_REQUEST', 'query.limit');
  assertProblem(await api.call('GET', '/api/v1/jobs?state=sleeping', { token: admin }), 'INVALID_REQUEST', 'query.state');
  assertProblem(await api.call('GET', '/api/v1/policies?cursor=garbage', { token: admin }), 'INVALID_REQUEST', 'query.cursor');
  assertProblem(await api.call('POST', '/api/v1/jobs', { token: api.tokens.operator, body: { kind: 'restore', repository: 'local', backup: 'b1' } }), 'INVALID_REQUEST', 'body.toDir');
  const notJson = await fetch(`${api.url}/api/v1/policies`, {
    method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: '{"name":',
  });
  const notJsonAnswer: ApiAnswer = { status: notJson.status, headers: notJson.headers, text: '', json: await notJson.json() };
  assertProblem(notJsonAnswer, 'INVALID_REQUEST', 'body');
});

test('unknown routes and items are 404 problems; an unready controller answers health with 503', async (t) => {
  const api = await startTestApi(t);
  assertProblem(await api.call('GET', '/api/v1/nothing-here'), 'NO_ROUTE');
  assertProblem(await api.call('DELETE', '/api/v1/health'), 'NO_ROUTE');
  assertProblem(await api.call('GET', '/api/v1/policies/nope', { token: api.tokens.viewer }), 'CATALOG_NOT_FOUND');
  assertProblem(await api.call('GET', '/api/v1/jobs/j000', { token: api.tokens.viewer }), 'JOB_NOT_FOUND');
  assertProblem(await api.call('GET', '/api/v1/backups/local/b1', { token: api.tokens.viewer }), 'BACKUP_NOT_FOUND');
  assertProblem(await api.call('POST', '/api/v1/jobs/j000/pause', { token: api.tokens.operator }), 'JOB_NOT_FOUND');
  assert.equal((await api.call('GET', '/api/v1/health')).status, 200);
  api.controller.ready = false;
  assertProblem(await api.call('GET', '/api/v1/health'), 'NOT_READY');
});

test('lists page with {items, total, next} and a cursor that survives inserts', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  for (const name of ['c', 'a', 'e']) {
    assert.equal((await api.call('POST', '/api/v1/repositories', { token: admin, body: { name, url: `/srv/${name}` } })).status, 201);
  }
  const first = (await api.call('GET', '/api/v1/repositories?limit=2', { token: admin })).json;
  assert.deepEqual([first.items.map((r: { name: string }) => r.name), first.total], [['a', 'c'], 3]);
  await api.call('POST', '/api/v1/repositories', { token: admin, body: { name: 'b', url: '/srv/b' } }); // sorts before the cursor
  const second = (await api.call('GET', `/api/v1/repositories?limit=2&cursor=${first.next}`, { token: admin })).json;
  assert.deepEqual([second.items.map((r: { name: string }) => r.name), second.total, second.next], [['e'], 4, null]);

  for (let i = 0; i < 3; i++) await api.call('POST', '/api/v1/jobs', { token: api.tokens.operator, body: { kind: 'gc', repository: 'a' } });
  const jobs = (await api.call('GET', '/api/v1/jobs?limit=2&kind=gc', { token: admin })).json;
  assert.deepEqual([jobs.items.length, jobs.total, typeof jobs.next], [2, 3, 'string']);
  const rest = (await api.call('GET', `/api/v1/jobs?limit=2&kind=gc&cursor=${jobs.next}`, { token: admin })).json;
  assert.deepEqual([rest.items.length, rest.next], [1, null]);
  assert.equal(new Set([...jobs.items, ...rest.items].map((j: { id: string }) => j.id)).size, 3);
});
