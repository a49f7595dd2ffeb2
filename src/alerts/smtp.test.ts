import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isVmbakError } from '../core/index.ts';
import { listDeliveries, SecretsBox, upsertAlertChannel, upsertAlertRule, type SmtpChannelSpec } from '../catalog/index.ts';
import { tempCatalog, tempDir, testClock } from '../catalog/catalog-test-support.ts';
import { AlertNotifier } from './notifier.ts';
import type { AlertEvent } from './alert-message.ts';
import { deadPort, startSmtpServer } from './alerts-test-support.ts';

const HOUR = 3_600_000;

async function setup(t: TestContext, spec: Partial<SmtpChannelSpec> & { port: number }, secret: string | null = null) {
  const clock = testClock();
  const catalog = await tempCatalog(t, clock);
  const box = new SecretsBox(Buffer.alloc(32, 6));
  await upsertAlertChannel(catalog, box, {
    name: 'ops', secret,
    spec: { type: 'smtp', host: '127.0.0.1', security: 'none', from: 'vmbak@example.com', to: ['ops@example.com', 'oncall@example.com'], timeout: '5s', ...spec },
  });
  await upsertAlertRule(catalog, 'failures', { events: ['job.failed', 'rpo.missed'], channels: ['ops'] });
  const problems: string[] = [];
  const notifier = new AlertNotifier({ catalog, box, retryBaseMs: 50, retryMaxMs: 200, onProblem: (m) => problems.push(m) });
  t.after(() => notifier.close());
  return { catalog, clock, notifier, problems };
}

const event = (kind: string, key: string, timeMs: number): AlertEvent => ({
  kind, key, severity: 'error', message: `job j1 of policy web failed: target /srv/vmbak is unreachable`, timeMs, data: { jobId: 'j1', policy: 'web' },
});

test('an alert arrives as a mail; repeats within the window are dropped, later ones sent', async (t) => {
  const smtp = await startSmtpServer(t);
  const { catalog, clock, notifier, problems } = await setup(t, { port: smtp.port });
  notifier.notify(event('job.failed', 'job.failed:j1', clock.nowMs()));
  notifier.notify(event('job.failed', 'job.failed:j1', clock.nowMs()));
  notifier.notify(event('rpo.missed', 'rpo.missed:vm:u1', clock.nowMs()));
  notifier.notify(event('host.lost', 'host.lost:h1', clock.nowMs())); // no rule routes it
  await notifier.drain();
  assert.equal(smtp.mails.length, 2);
  const mail = smtp.mails[0]!;
  assert.deepEqual([mail.from, mail.to], ['vmbak@example.com', ['ops@example.com', 'oncall@example.com']]);
  assert.match(mail.raw, /Subject: \[vmbak\] job.failed: job j1 of policy web failed/);
  assert.match(mail.raw, /policy: +web/);
  clock.advance(HOUR + 1);
  notifier.notify(event('job.failed', 'job.failed:j1', clock.nowMs()));
  await notifier.drain();
  assert.equal(smtp.mails.length, 3, 'after the window the same key alerts again');
  const deliveries = await listDeliveries(catalog);
  assert.deepEqual(deliveries.items.map((d) => [d.eventKey, d.state, d.attempts]), [
    ['job.failed:j1', 'delivered', 1], ['rpo.missed:vm:u1', 'delivered', 1], ['job.failed:j1', 'delivered', 1],
  ]);
  assert.deepEqual(problems, []);
});

test('STARTTLS and AUTH, with the password from the sealed channel secret', async (t) => {
  const smtp = await startSmtpServer(t, { starttlsCertDir: tempDir(t), auth: { user: 'vmbak', password: 'mail-pw' } });
  const { clock, notifier, catalog } = await setup(t, { port: smtp.port, security: 'starttls', tlsVerify: false, user: 'vmbak' }, 'mail-pw');
  notifier.notify(event('job.failed', 'job.failed:j2', clock.nowMs()));
  await notifier.drain();
  assert.equal(smtp.mails.length, 1);
  assert.deepEqual([smtp.mails[0]!.secured, smtp.mails[0]!.user], [true, 'vmbak']);

  await upsertAlertChannel(catalog, new SecretsBox(Buffer.alloc(32, 6)), {
    name: 'ops', secret: 'wrong', spec: { type: 'smtp', host: '127.0.0.1', port: smtp.port, security: 'starttls', tlsVerify: false, user: 'vmbak', from: 'vmbak@example.com', to: ['ops@example.com'], retries: 0 },
  });
  notifier.notify(event('job.failed', 'job.failed:j3', clock.nowMs()));
  await notifier.drain();
  const last = (await listDeliveries(catalog)).items[0]!;
  assert.deepEqual([last.eventKey, last.state, last.attempts], ['job.failed:j3', 'undelivered', 1]);
  assert.match(last.reason!, /invalid user or password|Invalid login/i);
  assert.ok(!last.reason!.includes('wrong'), 'the password is not in the reason');
  assert.equal(smtp.mails.length, 1);
});

test('implicit TLS (port 465 style)', async (t) => {
  const smtp = await startSmtpServer(t, { implicitTlsCertDir: tempDir(t) });
  const { clock, notifier, catalog } = await setup(t, { port: smtp.port, security: 'tls', tlsVerify: false });
  notifier.notify(event('job.failed', 'job.failed:j4', clock.nowMs()));
  await notifier.drain();
  assert.deepEqual(smtp.mails.map((m) => m.secured), [true]);
  assert.equal((await listDeliveries(catalog)).items[0]!.state, 'delivered');
});

test('a certificate that does not verify is refused unless tlsVerify is off', async (t) => {
  const smtp = await startSmtpServer(t, { starttlsCertDir: tempDir(t) });
  const { clock, notifier, catalog } = await setup(t, { port: smtp.port, security: 'starttls', retries: 0 });
  notifier.notify(event('job.failed', 'job.failed:j5', clock.nowMs()));
  await notifier.drain();
  const d = (await listDeliveries(catalog)).items[0]!;
  assert.equal(d.state, 'undelivered');
  assert.match(d.reason!, /self[- ]signed|certificate/i);
  assert.equal(smtp.mails.length, 0);
});

test('SMTP down: notify returns at once, the send is retried with backoff, then recorded undelivered', async (t) => {
  const { catalog, clock, notifier } = await setup(t, { port: await deadPort(), retries: 3 });
  const t0 = performance.now();
  for (let i = 0; i < 8; i++) notifier.notify(event('job.failed', `job.failed:j${i}`, clock.nowMs()));
  const notifyMs = performance.now() - t0;
  assert.ok(notifyMs < 20, `8 notify calls took ${notifyMs.toFixed(1)} ms`);
  await notifier.drain();
  const page = await listDeliveries(catalog, { limit: 100 });
  assert.equal(page.total, 8);
  for (const d of page.items) {
    assert.deepEqual([d.state, d.attempts], ['undelivered', 4]);
    assert.match(d.reason!, /ECONNREFUSED/);
  }
  assert.ok(performance.now() - t0 >= 50 + 100 + 200, 'three backoff waits of 50, 100 and 200 ms');
});

test('send test: delivered, or an error naming the channel and the reason', async (t) => {
  const smtp = await startSmtpServer(t);
  const up = await setup(t, { port: smtp.port });
  const id = await up.notifier.sendTest('ops');
  assert.equal(smtp.mails.length, 1);
  assert.match(smtp.mails[0]!.raw, /test message from vmbak to channel ops/);
  assert.equal((await listDeliveries(up.catalog)).items[0]!.id, id);
  await assert.rejects(up.notifier.sendTest('nope'), (err) => isVmbakError(err, 'CATALOG_NOT_FOUND'));

  const down = await setup(t, { port: await deadPort(), retries: 5 });
  const t0 = performance.now();
  await assert.rejects(down.notifier.sendTest('ops'), (err) => isVmbakError(err, 'ALERT_UNDELIVERED') && /channel ops was not delivered: .*ECONNREFUSED/.test(err.message));
  assert.ok(performance.now() - t0 < 2000, 'no retries while the caller waits');
  assert.deepEqual((await listDeliveries(down.catalog)).items.map((d) => [d.eventKind, d.state, d.attempts]), [['test', 'undelivered', 1]]);
});
