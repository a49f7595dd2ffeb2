import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { listDeliveries, SecretsBox, upsertAlertChannel, upsertAlertRule, type WebhookChannelSpec } from '../catalog/index.ts';
import { beforeCatalogRemoval, tempCatalog, testClock } from '../catalog/catalog-test-support.ts';
import { AlertNotifier } from './notifier.ts';
import type { AlertEvent } from './alert-message.ts';
import { startReceiver, type ReceivedRequest } from './alerts-test-support.ts';

const SECRET = 'whsec-0123456789';
const box = new SecretsBox(Buffer.alloc(32, 8));

async function setup(t: TestContext, channels: Record<string, Partial<WebhookChannelSpec> & { url: string }>, rules: Record<string, string[]> = { all: ['*'] }) {
  const clock = testClock();
  const cleanup = beforeCatalogRemoval(t);
  const catalog = await tempCatalog(t, clock);
  for (const [name, spec] of Object.entries(channels)) await upsertAlertChannel(catalog, box, { name, secret: SECRET, spec: { type: 'webhook', ...spec } });
  for (const [name, events] of Object.entries(rules)) {
    await upsertAlertRule(catalog, name, { events: events as never, channels: name === 'all' ? Object.keys(channels) : [name.replace(/^to-/, '')] });
  }
  const notifier = new AlertNotifier({ catalog, box, retryBaseMs: 40, retryMaxMs: 400 });
  cleanup(() => notifier.close());
  return { catalog, clock, notifier };
}

const event = (kind: string, key: string): AlertEvent => ({
  kind, key, severity: 'error', message: 'verify found 1 problem in /srv/vmbak', timeMs: Date.UTC(2026, 0, 1), data: { repository: 'local' },
});

/** What a receiver does: recompute the HMAC of the raw body with the shared secret and compare in constant time. */
function signatureValid(req: ReceivedRequest): boolean {
  const header = String(req.headers['x-vmbak-signature'] ?? '');
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`);
  return header.length === expected.length && timingSafeEqual(Buffer.from(header), expected);
}

test('a signed JSON POST that the receiver verifies', async (t) => {
  const receiver = await startReceiver(t, (_n, req) => (signatureValid(req) ? 204 : 401));
  const { catalog, notifier } = await setup(t, { hook: { url: receiver.url } });
  notifier.notify(event('verify.failed', 'verify.failed:local'));
  await notifier.drain();
  assert.equal(receiver.requests.length, 1);
  const req = receiver.requests[0]!;
  assert.ok(signatureValid(req));
  assert.equal(req.headers['content-type'], 'application/json');
  assert.equal(req.headers['x-vmbak-event'], 'verify.failed');
  const body = JSON.parse(req.body.toString('utf8'));
  assert.deepEqual({ ...body, controller: typeof body.controller }, {
    version: 1, kind: 'verify.failed', key: 'verify.failed:local', severity: 'error', message: 'verify found 1 problem in /srv/vmbak',
    time: '2026-01-01T00:00:00.000Z', controller: 'string', data: { repository: 'local' },
  });
  const delivery = (await listDeliveries(catalog)).items[0]!;
  assert.deepEqual([delivery.state, String(delivery.id)], ['delivered', req.headers['x-vmbak-delivery']]);
});

test('a tampered body fails the receiver’s check', async (t) => {
  const receiver = await startReceiver(t);
  const { notifier } = await setup(t, { hook: { url: receiver.url } });
  notifier.notify(event('job.failed', 'job.failed:j1'));
  await notifier.drain();
  const req = receiver.requests[0]!;
  assert.ok(signatureValid(req));
  assert.ok(!signatureValid({ ...req, body: Buffer.from(req.body.toString().replace('local', 'other')) }));
});

test('5xx is retried with growing waits until it succeeds, under one delivery id', async (t) => {
  const times: number[] = [];
  const receiver = await startReceiver(t, (n) => { times.push(performance.now()); return n < 3 ? 503 : 200; });
  const { catalog, notifier } = await setup(t, { hook: { url: receiver.url, retries: 4 } });
  notifier.notify(event('job.failed', 'job.failed:j1'));
  await notifier.drain();
  assert.equal(receiver.requests.length, 3);
  assert.equal(new Set(receiver.requests.map((r) => r.headers['x-vmbak-delivery'])).size, 1);
  assert.ok(times[1]! - times[0]! >= 35 && times[2]! - times[1]! >= 75, `waits ${times[1]! - times[0]!} then ${times[2]! - times[1]!} ms`);
  assert.deepEqual((await listDeliveries(catalog)).items.map((d) => [d.state, d.attempts]), [['delivered', 3]]);
});

test('a 4xx answer is final; no answer times out and is retried, then undelivered', async (t) => {
  const refusing = await startReceiver(t, () => 410);
  const silent = await startReceiver(t, () => null);
  const { catalog, notifier } = await setup(t, {
    gone: { url: refusing.url, retries: 4 }, mute: { url: silent.url, retries: 1, timeout: '300ms' },
  });
  const t0 = performance.now();
  notifier.notify(event('gc.failed', 'gc.failed:local'));
  assert.ok(performance.now() - t0 < 20, 'notify does not wait for a silent receiver');
  await notifier.drain();
  const byChannel = new Map((await listDeliveries(catalog)).items.map((d) => [d.channel, d]));
  assert.deepEqual([byChannel.get('gone')!.state, byChannel.get('gone')!.attempts, byChannel.get('gone')!.reason], ['undelivered', 1, 'the receiver answered HTTP 410']);
  assert.deepEqual([byChannel.get('mute')!.state, byChannel.get('mute')!.attempts, byChannel.get('mute')!.reason], ['undelivered', 2, 'no answer within 300ms']);
  assert.equal(refusing.requests.length, 1);
  assert.equal(silent.requests.length, 2);
});

test('rules route by event kind; "*" routes every kind', async (t) => {
  const a = await startReceiver(t);
  const b = await startReceiver(t);
  const { notifier } = await setup(t, { a: { url: a.url }, b: { url: b.url } }, { 'to-a': ['job.failed', 'job.warning'], 'to-b': ['*'] });
  notifier.notify(event('host.lost', 'host.lost:h1'));
  notifier.notify(event('job.failed', 'job.failed:j1'));
  notifier.notify(event('job.warning', 'job.warning:j2'));
  await notifier.drain();
  const kinds = (r: { requests: ReceivedRequest[] }) => r.requests.map((q) => q.headers['x-vmbak-event']).sort();
  assert.deepEqual(kinds(a), ['job.failed', 'job.warning']);
  assert.deepEqual(kinds(b), ['host.lost', 'job.failed', 'job.warning']);
});

test('a closed notifier drops new events and says so', async (t) => {
  const catalog = await tempCatalog(t);
  const problems: string[] = [];
  const notifier = new AlertNotifier({ catalog, box, onProblem: (m) => problems.push(m) });
  await notifier.close();
  notifier.notify(event('job.failed', 'job.failed:j9'));
  await notifier.drain();
  assert.deepEqual(problems, ['alert job.failed job.failed:j9 dropped: the notifier is closed']);
});
