// Login and sessions through a real socket: a user's password buys a session token that
// expires; failed logins are limited per client address and per user name (requests come
// from several loopback addresses to tell the two apart); disabling a user or revoking a
// token takes effect on the next request; the audit log names who did what.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestApi, tokenSecret, type Json } from './server-test-support.ts';

/** POST /auth/login from a chosen loopback address (127.0.0.0/8 is all local on Linux). */
function loginFrom(url: string, localAddress: string, name: string, password: string): Promise<{ status: number; json: Json; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/api/v1/auth/login`, { method: 'POST', localAddress, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text), retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ name, password }));
  });
}

test('a user logs in for a session token that works until it expires or the user is disabled', async (t) => {
  const api = await startTestApi(t);
  const admin = api.tokens.admin;
  const created = await api.call('POST', '/api/v1/users', { token: admin, body: { name: 'alice', role: 'operator', password: 'correct horse' } });
  assert.equal(created.status, 201);
  assert.deepEqual({ name: created.json.name, role: created.json.role, disabled: created.json.disabled }, { name: 'alice', role: 'operator', disabled: false });
  assert.ok(!created.text.includes('correct horse'));

  const wrong = await api.call('POST', '/api/v1/auth/login', { body: { name: 'alice', password: 'wrong horse' } });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.code, 'LOGIN_FAILED');
  const login = await api.call('POST', '/api/v1/auth/login', { body: { name: 'alice', password: 'correct horse' } });
  assert.equal(login.status, 200);
  assert.deepEqual(login.json.user, { name: 'alice', role: 'operator' });
  const session = login.json.token as string;
  assert.deepEqual((await api.call('GET', '/api/v1/auth/me', { token: session })).json, { actor: 'user:alice', role: 'operator', user: 'alice' });
  assert.equal((await api.call('POST', '/api/v1/policies', { token: session, body: {} })).status, 403, 'an operator session may not change settings');

  const tokens = (await api.call('GET', '/api/v1/tokens', { token: admin })).json;
  assert.ok(tokens.items.every((tk: Json) => !tk.name.startsWith('session:')), 'sessions are not listed as API tokens');
  const sessions = (await api.call('GET', '/api/v1/tokens?sessions=true', { token: admin })).json;
  assert.equal(sessions.items.filter((tk: Json) => tk.createdBy === 'alice').length, 1);

  api.clock.advance(12 * 3_600_000);
  assert.equal((await api.call('GET', '/api/v1/auth/me', { token: session })).status, 401, 'expired after 12 h');

  const leaving = (await api.call('POST', '/api/v1/auth/login', { body: { name: 'alice', password: 'correct horse' } })).json.token as string;
  assert.equal((await api.call('POST', '/api/v1/auth/logout', { token: leaving })).status, 204);
  assert.equal((await api.call('GET', '/api/v1/auth/me', { token: leaving })).status, 401, 'logout ends the session at once');

  const second = (await api.call('POST', '/api/v1/auth/login', { body: { name: 'alice', password: 'correct horse' } })).json.token as string;
  assert.equal((await api.call('GET', '/api/v1/auth/me', { token: second })).status, 200);
  assert.equal((await api.call('POST', '/api/v1/users/alice/disable', { token: admin })).status, 204);
  assert.equal((await api.call('GET', '/api/v1/auth/me', { token: second })).status, 401, 'disabling ends the sessions at once');
  assert.equal((await api.call('POST', '/api/v1/auth/login', { body: { name: 'alice', password: 'correct horse' } })).status, 401);

  const audit = (await api.call('GET', '/api/v1/audit', { token: admin })).json.items as Json[];
  const byAction = (action: string) => audit.filter((e) => e.action === action);
  assert.deepEqual(byAction('user.create').map((e) => [e.actor, e.target, e.detail.request.password]), [['token:test-admin', 'alice', '[redacted]']]);
  assert.deepEqual(byAction('auth.login').map((e) => [e.actor, e.target]), [['user:alice', 'alice'], ['user:alice', 'alice'], ['user:alice', 'alice']]);
  assert.deepEqual(byAction('auth.logout').map((e) => [e.actor, e.target]), [['user:alice', 'alice']]);
  assert.deepEqual(byAction('user.disable').map((e) => [e.actor, e.target, e.detail.sessionsEnded]), [['token:test-admin', 'alice', 1]]);
});

test('failed logins are limited per address and per user name: the sixth attempt within a minute gets 429', async (t) => {
  const api = await startTestApi(t);
  for (const name of ['alice', 'carol']) {
    assert.equal((await api.call('POST', '/api/v1/users', { token: api.tokens.admin, body: { name, role: 'viewer', password: 'correct horse' } })).status, 201);
  }
  // Per address: five wrong passwords for five names from 127.0.0.2 lock that address out, even for a right password.
  for (let i = 0; i < 5; i++) assert.equal((await loginFrom(api.url, '127.0.0.2', `nobody${i}`, 'guess')).status, 401);
  const locked = await loginFrom(api.url, '127.0.0.2', 'alice', 'correct horse');
  assert.equal(locked.status, 429);
  assert.equal(locked.json.code, 'LOGIN_RATE_LIMITED');
  assert.match(locked.json.detail, /address 127\.0\.0\.2/);
  assert.ok(Number(locked.retryAfter) > 0 && Number(locked.retryAfter) <= 60, `Retry-After ${locked.retryAfter}`);
  assert.equal((await loginFrom(api.url, '127.0.0.3', 'alice', 'correct horse')).status, 200, 'another address may');

  // Per name: five wrong passwords for carol from five addresses lock carol out everywhere, and nobody else.
  for (let i = 0; i < 5; i++) assert.equal((await loginFrom(api.url, `127.0.1.${i + 1}`, 'carol', 'guess')).status, 401);
  const carol = await loginFrom(api.url, '127.0.2.1', 'carol', 'correct horse');
  assert.equal(carol.status, 429);
  assert.match(carol.json.detail, /user carol/);
  assert.equal((await loginFrom(api.url, '127.0.2.1', 'alice', 'correct horse')).status, 200);

  api.clock.advance(60_001);
  assert.equal((await loginFrom(api.url, '127.0.0.2', 'alice', 'correct horse')).status, 200, 'a minute later the address may again');
  assert.equal((await loginFrom(api.url, '127.0.2.1', 'carol', 'correct horse')).status, 200, 'and so may carol');
});

test('a revoked API token stops working on the next request', async (t) => {
  const api = await startTestApi(t);
  const made = await api.call('POST', '/api/v1/tokens', { token: api.tokens.admin, body: { name: 'ci', role: 'viewer', expiresIn: '30d' } });
  assert.equal(made.status, 201);
  assert.match(made.json.token, /^vmbak_/);
  assert.equal(made.json.record.createdBy, 'token:test-admin');
  assert.ok(made.json.record.expiresMs > api.clock.nowMs());
  assert.equal((await api.call('GET', '/api/v1/vms', { token: made.json.token })).status, 200);
  const listed = (await api.call('GET', '/api/v1/tokens', { token: api.tokens.admin })).text;
  assert.ok(!listed.includes(tokenSecret(made.json.token)), 'the secret is shown once');
  assert.equal((await api.call('DELETE', `/api/v1/tokens/${made.json.record.id}`, { token: api.tokens.admin })).status, 204);
  assert.equal((await api.call('GET', '/api/v1/vms', { token: made.json.token })).status, 401);
  assert.equal((await api.call('DELETE', `/api/v1/tokens/${made.json.record.id}`, { token: api.tokens.admin })).status, 404);
  const bad = await api.call('POST', '/api/v1/tokens', { token: api.tokens.admin, body: { name: 'session:alice:x', role: 'admin' } });
  assert.equal(bad.status, 400, 'a token cannot pose as a login session');
  assert.equal(bad.json.field, 'body.name');
});
