// host.lost: a host silent past the window raises one alert (to a real webhook receiver) and
// turns lost; its next report makes it online again, and a second silence alerts again once
// the de-duplication window allows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AlertNotifier } from '../alerts/index.ts';
import { startReceiver } from '../alerts/alerts-test-support.ts';
import { SecretsBox, listHosts, recordHostSeen, upsertAlertChannel, upsertAlertRule } from '../catalog/index.ts';
import { beforeCatalogRemoval, tempCatalog, testClock } from '../catalog/catalog-test-support.ts';
import { checkHosts } from './host-watch.ts';

test('a silent host raises host.lost once and comes back online when it reports', async (t) => {
  const clock = testClock();
  const cleanup = beforeCatalogRemoval(t);
  const catalog = await tempCatalog(t, clock);
  const box = new SecretsBox(Buffer.alloc(32, 3));
  const hook = await startReceiver(t);
  await upsertAlertChannel(catalog, box, { name: 'hook', spec: { type: 'webhook', url: hook.url, retries: 0 } });
  await upsertAlertRule(catalog, 'hosts', { events: ['host.lost'], channels: ['hook'] });
  const notifier = new AlertNotifier({ catalog, box, dedupWindowMs: 10 * 60_000 });
  cleanup(() => notifier.close());

  await recordHostSeen(catalog, 'kvm1');
  await recordHostSeen(catalog, 'kvm2');
  clock.advance(4 * 60_000);
  await recordHostSeen(catalog, 'kvm2');
  assert.deepEqual(await checkHosts(catalog, notifier, 5 * 60_000), [], 'nobody silent for 5 min yet');
  clock.advance(2 * 60_000);
  assert.deepEqual(await checkHosts(catalog, notifier, 5 * 60_000), ['kvm1']);
  assert.deepEqual(await checkHosts(catalog, notifier, 5 * 60_000), [], 'a lost host is reported lost once');
  await notifier.drain();
  const lost = hook.requests.filter((r) => r.headers['x-vmbak-event'] === 'host.lost');
  assert.equal(lost.length, 1);
  assert.match(JSON.parse(lost[0]!.body.toString()).message, /host kvm1 has not reported for 5 min/);
  assert.deepEqual((await listHosts(catalog)).map((h) => [h.name, h.state]), [['kvm1', 'lost'], ['kvm2', 'online']]);

  await recordHostSeen(catalog, 'kvm1');
  assert.equal((await listHosts(catalog)).find((h) => h.name === 'kvm1')?.state, 'online', 'a report brings it back');
  clock.advance(11 * 60_000);
  assert.deepEqual(await checkHosts(catalog, notifier, 5 * 60_000), ['kvm1', 'kvm2']);
  await notifier.drain();
  assert.equal(hook.requests.filter((r) => r.headers['x-vmbak-event'] === 'host.lost').length, 3, 'lost again: alerted again past the window');
});
