import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { isVmbakError } from '../core/index.ts';
import { authenticateToken, createApiToken, listApiTokens, revokeApiToken } from './tokens.ts';
import { authenticateUser, createUser, setUserDisabled, setUserPassword } from './users.ts';
import { listAudit, recordAudit } from './audit.ts';
import { listEvents, recordEvent } from './events.ts';
import { listUsage, recordUsage } from './usage.ts';
import { failStaleDeliveries, finishDelivery, listDeliveries, recordDeliveryQueued, wasAlerted } from './alert-deliveries.ts';
import { listHosts, markLostHosts, recordHostSeen } from './hosts.ts';
import { upsertRepository } from './repositories.ts';
import { SecretsBox } from './secrets.ts';
import { tempCatalog, testClock } from './catalog-test-support.ts';

test('an API token is shown once, stored hashed, and stops working when revoked or expired', async (t) => {
  const clock = testClock();
  const catalog = await tempCatalog(t, clock);
  const { token, record } = await createApiToken(catalog, { name: 'ci', role: 'operator', expiresMs: clock.nowMs() + 3_600_000 });
  assert.match(token, /^vmbak_[A-Za-z0-9]+_[A-Za-z0-9_-]{43}$/);
  const { rows } = await sql<{ secret_hash: string }>`select secret_hash from api_tokens`.execute(catalog.db);
  // The secret is everything after the id (base64url: it may hold '_' itself).
  const secret = token.split('_').slice(2).join('_');
  assert.ok(!token.includes(rows[0]!.secret_hash) && !rows[0]!.secret_hash.includes(secret));
  assert.equal((await authenticateToken(catalog, token))?.role, 'operator');
  assert.equal((await listApiTokens(catalog))[0]!.lastUsedMs, clock.nowMs());
  assert.equal(await authenticateToken(catalog, token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')), null);
  assert.equal(await authenticateToken(catalog, 'Bearer nonsense'), null);
  await assert.rejects(createApiToken(catalog, { name: 'ci', role: 'viewer' }), (err) => isVmbakError(err, 'CATALOG_CONFLICT'));
  clock.advance(3_600_000);
  assert.equal(await authenticateToken(catalog, token), null, 'expired');
  const other = await createApiToken(catalog, { name: 'ops', role: 'admin' });
  assert.equal(await revokeApiToken(catalog, other.record.id), true);
  assert.equal(await authenticateToken(catalog, other.token), null, 'revoked');
  assert.equal(record.name, 'ci');
});

test('a user logs in with their password only, and not once disabled', async (t) => {
  const catalog = await tempCatalog(t);
  await createUser(catalog, 'alice', 'admin', 'pa55word');
  assert.equal((await authenticateUser(catalog, 'alice', 'pa55word'))?.role, 'admin');
  assert.equal(await authenticateUser(catalog, 'alice', 'wrong'), null);
  assert.equal(await authenticateUser(catalog, 'bob', 'pa55word'), null);
  const { rows } = await sql<{ password_hash: string }>`select password_hash from users`.execute(catalog.db);
  assert.match(rows[0]!.password_hash, /^scrypt\$15\$8\$1\$/);
  await setUserPassword(catalog, 'alice', 'n3w');
  assert.equal(await authenticateUser(catalog, 'alice', 'pa55word'), null);
  await setUserDisabled(catalog, 'alice', true);
  assert.equal(await authenticateUser(catalog, 'alice', 'n3w'), null);
  await assert.rejects(createUser(catalog, 'alice', 'viewer', 'x'), /user alice exists already/);
});

test('audit, events and usage samples read back in order', async (t) => {
  const clock = testClock();
  const catalog = await tempCatalog(t, clock);
  await recordAudit(catalog, 'token:ci', 'policy.update', 'policy:web', { enabled: false });
  clock.advance(1);
  await recordAudit(catalog, 'user:alice', 'backup.restore', 'backup:local/B1');
  assert.deepEqual((await listAudit(catalog)).items.map((a) => a.action), ['backup.restore', 'policy.update']);
  for (let i = 0; i < 5; i++) await recordEvent(catalog, { kind: i % 2 ? 'job.failed' : 'rpo.missed', severity: 'error', key: `k${i}`, message: `m${i}` });
  const failed = await listEvents(catalog, { kind: 'job.failed', limit: 1 });
  assert.deepEqual([failed.total, failed.items[0]!.message], [2, 'm3']);
  assert.deepEqual((await listEvents(catalog, { kind: 'job.failed', cursor: failed.next })).items.map((e) => e.message), ['m1']);
  await upsertRepository(catalog, new SecretsBox(Buffer.alloc(32)), { name: 'local', url: '/srv' });
  await recordUsage(catalog, 'local', { storedBytes: 10, logicalBytes: 40, chunkCount: 3, capacityBytes: null, dedupRatio: 2, compressionRatio: 2 });
  clock.advance(1000);
  await recordUsage(catalog, 'local', { storedBytes: 12, logicalBytes: 80, chunkCount: 4, capacityBytes: 100, dedupRatio: 3.5, compressionRatio: 1.9 });
  assert.deepEqual((await listUsage(catalog, 'local')).map((u) => [u.storedBytes, u.dedupRatio]), [[10, 2], [12, 3.5]]);
});

test('deliveries: pending counts for de-duplication, undelivered does not; stale pending rows are failed', async (t) => {
  const clock = testClock(1_000_000);
  const catalog = await tempCatalog(t, clock);
  const id = await recordDeliveryQueued(catalog, 'job.failed', 'job.failed:j1', 'ops');
  assert.equal(await wasAlerted(catalog, 'job.failed', 'job.failed:j1', 'ops', 0), true, 'pending');
  assert.equal(await wasAlerted(catalog, 'job.failed', 'job.failed:j1', 'hook', 0), false, 'other channel');
  assert.equal(await wasAlerted(catalog, 'job.warning', 'job.failed:j1', 'ops', 0), false, 'other kind');
  await finishDelivery(catalog, id, 'undelivered', 4, 'connection refused');
  assert.equal(await wasAlerted(catalog, 'job.failed', 'job.failed:j1', 'ops', 0), false);
  const again = await recordDeliveryQueued(catalog, 'job.failed', 'job.failed:j1', 'ops');
  await finishDelivery(catalog, again, 'delivered', 1, null);
  assert.equal(await wasAlerted(catalog, 'job.failed', 'job.failed:j1', 'ops', clock.nowMs() - 1000), true);
  assert.equal(await wasAlerted(catalog, 'job.failed', 'job.failed:j1', 'ops', clock.nowMs() + 1), false, 'outside the window');
  await recordDeliveryQueued(catalog, 'host.lost', 'host.lost:h1', 'ops');
  clock.advance(600_000);
  assert.equal(await failStaleDeliveries(catalog, 300_000, 'the controller stopped'), 1);
  const page = await listDeliveries(catalog, { channel: 'ops' });
  assert.deepEqual(page.items.map((d) => [d.eventKey, d.state, d.reason]), [
    ['host.lost:h1', 'undelivered', 'the controller stopped'], ['job.failed:j1', 'delivered', null], ['job.failed:j1', 'undelivered', 'connection refused'],
  ]);
});

test('a host silent for too long is marked lost once', async (t) => {
  const clock = testClock(0);
  const catalog = await tempCatalog(t, clock);
  await recordHostSeen(catalog, 'h1', 'qemu:///system');
  await recordHostSeen(catalog, 'h2');
  clock.advance(120_000);
  await recordHostSeen(catalog, 'h2');
  assert.deepEqual(await markLostHosts(catalog, 90_000), ['h1']);
  assert.deepEqual(await markLostHosts(catalog, 90_000), [], 'once');
  assert.deepEqual((await listHosts(catalog)).map((h) => [h.name, h.state]), [['h1', 'lost'], ['h2', 'online']]);
  await recordHostSeen(catalog, 'h1');
  assert.equal((await listHosts(catalog))[0]!.state, 'online');
});
