// TLS: with a certificate the API speaks HTTPS only; listening beyond loopback without one
// logs a warning (tokens and passwords would cross the network in clear text).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { createApiServer } from './api-server.ts';
import { isLoopbackHost, listenApiServer, plaintextWarning } from './listen.ts';
import { selfSignedCertificate, startTestApi } from './server-test-support.ts';

test('with a certificate the API answers over HTTPS, and plain HTTP gets no answer', async (t) => {
  const api = await startTestApi(t); // for its controller over a real catalog
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tls = selfSignedCertificate(dir);
  const app = createApiServer({ controller: api.controller, logger: false, tls });
  t.after(() => app.close());
  const url = await listenApiServer(app, { host: '127.0.0.1', port: 0, tls: true });
  assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const answer = await new Promise<{ status: number; body: string; protocol: string }>((resolve, reject) => {
    get(`${url}/api/v1/vms`, { ca: tls.cert, headers: { authorization: `Bearer ${api.tokens.viewer}` } }, (res) => {
      const protocol = (res.socket as TLSSocket).getProtocol() ?? '';
      let body = '';
      res.on('data', (d: Buffer) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, protocol }));
    }).on('error', reject);
  });
  assert.deepEqual([answer.status, JSON.parse(answer.body).total], [200, 0]);
  assert.match(answer.protocol, /^TLSv1\.[23]$/);
  await assert.rejects(fetch(`${url.replace('https:', 'http:')}/api/v1/health`));
});

test('listening beyond loopback without TLS logs a warning; loopback or TLS does not', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'backup.example.com']) {
    assert.ok(!isLoopbackHost(host), host);
    assert.match(plaintextWarning(host, false) ?? '', /without TLS/);
    assert.equal(plaintextWarning(host, true), null);
  }
  const api = await startTestApi(t);
  let log = '';
  const stream = new Writable({ write(chunk: Buffer, _enc, done) { log += chunk; done(); } });
  const app = createApiServer({ controller: api.controller, logger: { stream } });
  t.after(() => app.close());
  await listenApiServer(app, { host: '0.0.0.0', port: 0, tls: false });
  const warning = log.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => l.level === 40);
  assert.match(warning?.msg ?? '', /listens on 0\.0\.0\.0 without TLS/);
});
