// Every route the OpenAPI document lists, through a real socket: without a token → 401, with a
// token whose role may not use it → 403 — both before the body is read, so a body that would
// fail validation never turns them into a 400. What each role may do is written out here
// independently of the routes' own declarations, and the document's x-vmbak-access must agree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLES, createApiToken, type Role } from '../catalog/index.ts';
import { mayAccess, type Access } from './principal.ts';
import { startTestApi, type Json } from './server-test-support.ts';

const PUBLIC = ['POST /api/v1/auth/login', 'GET /api/v1/health', 'GET /api/v1/openapi.json'];
const ADMIN_READS = /^\/api\/v1\/(tokens|users|audit)\b/;
const OPERATOR_ACTIONS = /^\/api\/v1\/(jobs|backups|vms\/sync)\b/;
/** Reads that hand out guest file contents or disk images: a restore in all but name. */
const OPERATOR_READS = /^\/api\/v1\/(backups\/[^/]+\/[^/]+\/files\/download|jobs\/[^/]+\/download)$/;

/** The rules of docs/api.md's roles table, written out on their own. */
function mayUse(role: Role, method: string, path: string): boolean {
  const agentRoute = path.startsWith('/api/v1/agent/');
  if (role === 'agent' || agentRoute) return role === 'agent' && agentRoute;
  if (role === 'admin') return true;
  if (method === 'POST' && path === '/api/v1/auth/logout') return true; // every person may end their own session
  if (method === 'GET' && OPERATOR_READS.test(path)) return role === 'operator';
  if (method === 'GET') return !ADMIN_READS.test(path);
  // Deleting a backup destroys data: settings-level, for admins alone.
  if (method === 'DELETE' && path.startsWith('/api/v1/backups/')) return false;
  return role === 'operator' && OPERATOR_ACTIONS.test(path);
}

/** The status only: streams are cut once their headers arrive. */
async function statusOf(url: string, method: string, token: string | null, body?: string): Promise<{ status: number; code?: string }> {
  const abort = new AbortController();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body, signal: abort.signal });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    abort.abort();
    return { status: res.status };
  }
  const text = await res.text();
  return { status: res.status, code: res.headers.get('content-type')?.startsWith('application/problem+json') ? (JSON.parse(text) as { code: string }).code : undefined };
}

test('every route answers 401 without a token and 403 to each role that may not use it, before validating the body', async (t) => {
  const api = await startTestApi(t, { logLevel: 'warn' });
  const doc = (await api.call('GET', '/api/v1/openapi.json')).json;
  assert.equal(doc.openapi, '3.1.0');
  const operations = Object.entries(doc.paths as Record<string, Record<string, Json>>)
    .flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, op })));
  assert.ok(operations.length >= 40, `${operations.length} operations`);
  assert.deepEqual(operations.filter((o) => o.op['x-vmbak-access'] === 'public').map((o) => `${o.method} ${o.path}`).sort(), PUBLIC.sort());

  const checked: string[] = [];
  for (const { method, path, op } of operations) {
    const where = `${method} ${path}`;
    const url = `${api.url}${path.replace(/\{[^}]+\}/g, 'no-such-thing')}`;
    const access = op['x-vmbak-access'] as Access;
    const body = op.requestBody ? '{"not":"what this route takes"}' : undefined;
    if (access === 'public') {
      assert.notEqual((await statusOf(url, method, null, body)).status, 401, where);
      continue;
    }
    assert.deepEqual(op.security, [{ bearer: [] }], `${where} documents its bearer token`);
    assert.deepEqual(await statusOf(url, method, null, body), { status: 401, code: 'AUTH_REQUIRED' }, `${where} without a token`);
    assert.deepEqual(await statusOf(url, method, 'vmbak_nosuchid_nosuchsecret', body), { status: 401, code: 'AUTH_REQUIRED' }, `${where} with an unknown token`);
    if (method !== 'GET') assert.deepEqual(await statusOf(url, method, null, '{not json'), { status: 401, code: 'AUTH_REQUIRED' }, `${where} with a body that is no JSON`);
    for (const role of ROLES) {
      const allowed = mayUse(role, method, path);
      assert.equal(mayAccess(role, access), allowed, `${where} declares ${access}; the roles table says ${role} ${allowed ? 'may' : 'may not'}`);
      // Logging out revokes the token it is sent with: each role logs out a token of its own.
      const token = where === 'POST /api/v1/auth/logout' ? (await createApiToken(api.controller.catalog, { name: `leaving-${role}`, role })).token : api.tokens[role];
      const answer = await statusOf(url, method, token, body);
      if (allowed) assert.ok(answer.status !== 401 && answer.status !== 403, `${where} as ${role}: ${JSON.stringify(answer)}`);
      else assert.deepEqual(answer, { status: 403, code: 'ACCESS_DENIED' }, `${where} as ${role}`);
    }
    checked.push(where);
  }
  assert.equal(checked.length, operations.length - PUBLIC.length);
  // The mutations above were refused or failed validation, or touched nothing that exists: no token made anything.
  const audit = (await api.call('GET', '/api/v1/audit?limit=1000', { token: api.tokens.admin })).json;
  assert.ok(audit.items.every((e: Json) => ['inventory.sync', 'backups.rebuild', 'auth.logout'].includes(e.action)), JSON.stringify(audit.items.map((e: Json) => e.action)));
});
