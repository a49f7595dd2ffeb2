// The agent's line to the controller carries its token and the repositories' credentials:
// plain HTTP beyond this machine is refused in one line (unless the user says the network is
// trusted), and HTTPS to a controller with a private certificate works with that CA given and
// fails in one clear line without it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVmbakError } from '../core/index.ts';
import { createApiServer } from '../server/api-server.ts';
import { listenApiServer } from '../server/listen.ts';
import { selfSignedCertificate, startTestApi } from '../server/server-test-support.ts';
import { ControllerClient } from './controller-client.ts';

test('http:// beyond loopback is refused unless allowed; loopback is fine', () => {
  assert.throws(() => new ControllerClient('https://ctl-a:8470,http://10.1.2.3:8470', 't'),
    (err) => isVmbakError(err, 'CONTROLLER_INSECURE') && /http:\/\/10\.1\.2\.3:8470 is beyond this machine without TLS/.test(err.message));
  assert.doesNotThrow(() => new ControllerClient('http://10.1.2.3:8470', 't', { allowPlaintext: true }));
  for (const url of ['http://127.0.0.1:8470', 'http://localhost:8470', 'http://[::1]:8470']) assert.doesNotThrow(() => new ControllerClient(url, 't'), url);
  assert.throws(() => new ControllerClient('ftp://ctl', 't'), (err) => isVmbakError(err, 'USAGE'));
});

test('HTTPS to a controller with a private certificate: trusted with its CA, one clear line without', async (t) => {
  const api = await startTestApi(t);
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-agent-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tls = selfSignedCertificate(dir);
  const app = createApiServer({ controller: api.controller, logger: false, tls });
  t.after(() => app.close());
  const url = await listenApiServer(app, { host: '127.0.0.1', port: 0, tls: true });

  const trusted = new ControllerClient(url, api.tokens.viewer, { ca: tls.cert });
  assert.equal((await trusted.call<{ total: number }>('GET', '/vms')).total, 0);
  const refusedByRole = await trusted.call('POST', '/agent/hosts/h1/register', { uri: null }).catch((err: unknown) => err);
  assert.ok(isVmbakError(refusedByRole, 'CONTROLLER_REFUSED'), 'the API\'s refusal comes back as the controller\'s words');

  const untrusted = new ControllerClient(url, api.tokens.viewer);
  const err = await untrusted.call('GET', '/vms').catch((e: unknown) => e);
  assert.ok(isVmbakError(err, 'CONTROLLER_UNREACHABLE'), String(err));
  assert.match((err as Error).message, /self[- ]signed certificate/);
});
