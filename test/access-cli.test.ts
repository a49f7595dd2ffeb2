// `vmbak token create|ls|revoke` and `vmbak user create` through the real command, against the
// data dir of an API server listening on a real socket: a token made by the command while the
// server runs works on the server's next request, one made before it started works too, a
// revoked one stops at once, and a user made by the command logs in through the API.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirPaths } from '../src/catalog/index.ts';
import { startTestApi, tokenSecret } from '../src/server/server-test-support.ts';
import { isCleanError, tempDir, vmbak } from './support/vmbak-cli.ts';

const lastLine = (stdout: string): string => stdout.trimEnd().split('\n').at(-1)!;

test('a token made by `vmbak token create` works on a running server at once, and stops when revoked', async (t) => {
  const api = await startTestApi(t);
  const dataDir = api.dataDir;
  const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'operator', '--name', 'ci']);
  assert.equal(made.code, 0, made.stderr);
  const token = lastLine(made.stdout);
  assert.match(token, /^vmbak_[A-Za-z0-9]+_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual((await api.call('GET', '/api/v1/auth/me', { token })).json, { actor: 'token:ci', role: 'operator', user: null });
  assert.equal((await api.call('POST', '/api/v1/jobs', { token, body: { kind: 'gc', repository: 'local' } })).status, 202);

  const expiring = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'viewer', '--name', 'dash', '--expires-in', '30d']);
  assert.equal(expiring.code, 0, expiring.stderr);
  assert.match(expiring.stdout, /expires \d{4}-/);
  const listed = await vmbak(['token', 'ls', '--data-dir', dataDir, '--json']);
  const records = JSON.parse(listed.stdout) as { id: string; name: string; role: string; createdBy: string }[];
  const ci = records.find((r) => r.name === 'ci')!;
  assert.deepEqual([ci.role, ci.createdBy.startsWith('cli:')], ['operator', true]);
  assert.ok(!listed.stdout.includes(tokenSecret(token)), 'ls never shows a secret');

  const duplicate = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'viewer', '--name', 'ci']);
  assert.ok(isCleanError(duplicate) && duplicate.code === 1, duplicate.stderr);
  assert.match(duplicate.stderr, /token ci exists already/);

  const revoked = await vmbak(['token', 'revoke', '--data-dir', dataDir, ci.id]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.equal((await api.call('GET', '/api/v1/auth/me', { token })).status, 401);
  const audit = (await api.call('GET', '/api/v1/audit', { token: api.tokens.admin })).json.items as { actor: string; action: string; target: string }[];
  assert.deepEqual(audit.filter((e) => e.actor.startsWith('cli:')).map((e) => [e.action, e.target]).reverse(),
    [['token.create', 'ci'], ['token.create', 'dash'], ['token.revoke', ci.id]]);
});

test('`vmbak user create` makes a user who logs in through the API; bad input is refused before the catalog is touched', async (t) => {
  const api = await startTestApi(t);
  const passwordFile = join(api.dataDir, 'alice.password');
  writeFileSync(passwordFile, 'correct horse battery\n');
  const made = await vmbak(['user', 'create', '--data-dir', api.dataDir, '--role', 'admin', '--name', 'alice', '--password-file', passwordFile]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stdout, 'user alice (role admin) created\n');
  const login = await api.call('POST', '/api/v1/auth/login', { body: { name: 'alice', password: 'correct horse battery' } });
  assert.equal(login.status, 200, login.text);
  assert.deepEqual(login.json.user, { name: 'alice', role: 'admin' });
  const again = await vmbak(['user', 'create', '--data-dir', api.dataDir, '--role', 'viewer', '--name', 'alice', '--password-file', passwordFile]);
  assert.ok(isCleanError(again) && again.code === 1, again.stderr);

  const fresh = tempDir('access-cli');
  t.after(fresh.remove);
  writeFileSync(join(fresh.dir, 'short'), 'short\n');
  for (const [args, message] of [
    [['--role', 'root', '--name', 'bob', '--password-file', passwordFile], /--role root: give one of admin, operator, viewer, agent/],
    [['--role', 'viewer', '--name', 'bob:x', '--password-file', passwordFile], /--name bob:x: use letters/],
    [['--role', 'viewer', '--name', 'bob', '--password-file', join(fresh.dir, 'short')], /the password has 5 characters; give at least 8/],
    [['--role', 'viewer', '--name', 'bob', '--password-file', join(fresh.dir, 'missing')], /cannot read password file/],
    [['--role', 'viewer', '--name', 'bob'], /no password: pass --password-file/],
  ] as const) {
    const refused = await vmbak(['user', 'create', '--data-dir', fresh.dir, ...args]);
    assert.ok(isCleanError(refused) && refused.code === 2, `${args.join(' ')}: ${refused.code} ${refused.stderr}`);
    assert.match(refused.stderr, message);
  }
  assert.ok(!existsSync(dataDirPaths(fresh.dir).catalog), 'refused commands made no catalog');

  // With no catalog yet (before the first `vmbak serve`), the command makes one and says so.
  const first = await vmbak(['user', 'create', '--data-dir', fresh.dir, '--role', 'admin', '--name', 'root', '--password-file', passwordFile]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /created a new catalog at .*catalog\.sqlite/);
  assert.ok(existsSync(dataDirPaths(fresh.dir).catalog));
});
