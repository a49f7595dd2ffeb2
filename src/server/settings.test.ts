// What the console's settings, calendar and file browser ask of the API: GET /server (version,
// data dir, catalog, how jobs run, hosts) and GET /care-schedule (each repository's verify and gc
// cron with its next run, from the real controller's scheduler; a task turned off has none), for
// viewers; GET …/files/index (whether a backup is searchable); and a backup's fullReason.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheFileIndex, createApiToken, recordBackups, recordHostSeen } from '../catalog/index.ts';
import { Controller } from '../controller/index.ts';
import { createApiServer } from './api-server.ts';
import { listenApiServer } from './listen.ts';
import { callApi, startTestApi } from './server-test-support.ts';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('GET /server and GET /care-schedule over the real controller: its facts, its hosts, next runs from its scheduler', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vmbak-api-settings-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const controller = await Controller.open({ dataDir, localAgent: false, streams: 3, log: quiet, schedulerTickMs: 60_000 });
  const app = createApiServer({ controller, logger: false });
  t.after(async () => { await app.close(); await controller.stop(); });
  const url = await listenApiServer(app, { host: '127.0.0.1', port: 0, tls: false });
  await controller.start();
  const admin = (await createApiToken(controller.catalog, { name: 'admin', role: 'admin' })).token;
  const viewer = (await createApiToken(controller.catalog, { name: 'viewer', role: 'viewer' })).token;
  await recordHostSeen(controller.catalog, 'kvm-a', 'qemu+ssh://kvm-a/system');

  const server = (await callApi(url, 'GET', '/api/v1/server', { token: viewer })).json;
  assert.equal(server.version, VERSION);
  assert.equal(server.dataDir, dataDir);
  assert.deepEqual([server.catalog.kind, server.catalog.location], ['sqlite', join(dataDir, 'catalog.sqlite')]);
  assert.deepEqual([server.localAgent, server.remoteAgents, server.streams], [false, false, 3]);
  assert.deepEqual(server.hosts.map((h: { name: string; uri: string }) => [h.name, h.uri]), [['kvm-a', 'qemu+ssh://kvm-a/system']]);
  assert.equal((await callApi(url, 'GET', '/api/v1/server')).status, 401);

  const care = { verifyNew: '30 3 * * *', verifyAll: false, gc: '0 5 * * 0', timezone: 'UTC' };
  assert.equal((await callApi(url, 'POST', '/api/v1/repositories', { token: admin, body: { name: 'local', url: join(dataDir, 'repo'), care } })).status, 201);
  const items = (await callApi(url, 'GET', '/api/v1/care-schedule', { token: viewer })).json.items as { repository: string; task: string; schedule: string | false; nextMs: number | null }[];
  assert.deepEqual(items.map((i) => [i.repository, i.task, i.schedule]), [['local', 'verifyNew', '30 3 * * *'], ['local', 'verifyAll', false], ['local', 'gc', '0 5 * * 0']]);
  const [verifyNew, verifyAll, gc] = items;
  assert.ok(verifyNew!.nextMs! > Date.now() && verifyNew!.nextMs! <= Date.now() + 86_400_000, 'verify new: within a day');
  assert.deepEqual([new Date(verifyNew!.nextMs!).getUTCHours(), new Date(verifyNew!.nextMs!).getUTCMinutes()], [3, 30]);
  assert.equal(verifyAll!.nextMs, null, 'a task turned off has no next run');
  assert.equal(new Date(gc!.nextMs!).getUTCDay(), 0, 'gc on Sundays');
});

test('GET …/files/index says whether a backup is searchable; backups say why a full one was full', async (t) => {
  const api = await startTestApi(t);
  const { catalog } = api.controller;
  assert.equal((await api.call('POST', '/api/v1/repositories', { token: api.tokens.admin, body: { name: 'local', url: '/srv/vmbak' } })).status, 201);
  const base = { repository: 'local', vmKey: 'u1', vmUuid: 'u1', vmName: 'web', host: 'h', logicalBytes: 1, newBytes: 1, storedBytes: 1, consistency: 'crash' as const };
  await recordBackups(catalog, [
    { ...base, backupId: 'b1', timeMs: 1000, incremental: false, fullReason: 'no changed-block tracking for this source' },
    { ...base, backupId: 'b2', timeMs: 2000, incremental: true, fullReason: null },
  ]);
  await cacheFileIndex(catalog, { repository: 'local', backupId: 'b2', vmKey: 'u1', vmName: 'web', timeMs: 2000 }, {
    header: { format: 'vmbak-file-index', version: 1, backupId: 'b2', createdAt: new Date(2000).toISOString(), hashLimitBytes: 0, durationMs: 1,
      filesystems: [{ id: 'vda/p1', type: 'ext4', extents: null, extentDigest: null, reusedFrom: null, entryCount: 1, error: null }] },
    entries: [[{ path: '/etc', type: 'dir', sizeBytes: 0, mtimeMs: 0, mode: 0o755, uid: 0, gid: 0, sha256: null }]],
  });
  const viewer = api.tokens.viewer;
  const index = async (id: string) => (await api.call('GET', `/api/v1/backups/local/${id}/files/index`, { token: viewer })).json;
  assert.deepEqual(await index('b1'), { indexed: false, entryCount: null, cachedMs: null });
  const b2 = await index('b2');
  assert.deepEqual([b2.indexed, b2.entryCount, typeof b2.cachedMs], [true, 1, 'number']);
  const listed = (await api.call('GET', '/api/v1/backups?vm=u1', { token: viewer })).json.items as { backupId: string; fullReason: string | null }[];
  assert.deepEqual(listed.map((b) => [b.backupId, b.fullReason]), [['b2', null], ['b1', 'no changed-block tracking for this source']]);
});
