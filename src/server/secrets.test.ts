// Secrets go in and never come out: repository credentials, channel secrets, passwords and
// tokens appear in no API answer (every GET route of the document is read back and searched)
// and in no log line (the server's pino stream is captured) — except the agent's credentials
// route, the one place a repository's secrets leave, for the agent role only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recordBackups } from '../catalog/index.ts';
import { startTestApi, tokenSecret, type Json } from './server-test-support.ts';

const PASSPHRASE = 'passphrase-Zq83xkQ';
const S3_SECRET = 'aws-secret-Hh27dPw';
const SMTP_PASSWORD = 'smtp-password-Ue61mT';
const WEBHOOK_SECRET = 'webhook-secret-Yb40nR';
const USER_PASSWORD = 'user-password-Kc95vL';
const OTHER_PASSWORD = 'other-password-Wd14sE';

test('credentials, secrets, passwords and tokens appear in no answer and no log line; agents alone read credentials', async (t) => {
  const api = await startTestApi(t, { logLevel: 'trace' });
  const admin = api.tokens.admin;
  const post = async (path: string, body: unknown, status = 201): Promise<Json> => {
    const answer = await api.call('POST', path, { token: admin, body });
    assert.equal(answer.status, status, `${path}: ${answer.text}`);
    return answer.json;
  };
  const repo = await post('/api/v1/repositories', {
    name: 'offsite', url: 's3://backups/vmbak?endpoint=https://s3.example.com',
    credentials: { passphrase: PASSPHRASE, env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: S3_SECRET } },
  });
  assert.equal(repo.hasCredentials, true);
  await post('/api/v1/alerts/channels', { name: 'mail', type: 'smtp', host: 'smtp.example.com', user: 'vmbak', password: SMTP_PASSWORD, from: 'vmbak@example.com', to: ['ops@example.com'] });
  const hook = await post('/api/v1/alerts/channels', { name: 'hook', type: 'webhook', url: 'https://hooks.example.com/vmbak', secret: WEBHOOK_SECRET });
  assert.equal(hook.hasSecret, true);
  await post('/api/v1/alerts/rules', { name: 'failures', events: ['job.failed'], channels: ['mail', 'hook'] });
  await post('/api/v1/policies', { name: 'web', vms: ['web*'], repositories: ['offsite'], schedule: '@daily' });
  await post('/api/v1/users', { name: 'alice', role: 'admin', password: USER_PASSWORD });
  const session = (await post('/api/v1/auth/login', { name: 'alice', password: USER_PASSWORD }, 200)).token as string;
  const apiToken = (await post('/api/v1/tokens', { name: 'ci', role: 'operator' })).token as string;
  // Refused requests carrying secrets: a failed login, a body that fails validation.
  await post('/api/v1/auth/login', { name: 'alice', password: OTHER_PASSWORD }, 401);
  await post('/api/v1/users', { name: 'bob', role: 'superuser', password: OTHER_PASSWORD }, 400);
  await post('/api/v1/repositories', { name: 'bad', url: `sftp://backup:${OTHER_PASSWORD}@nas/srv`, credentials: { passphrase: OTHER_PASSWORD } }, 400);
  // A change that leaves the credentials alone keeps them.
  assert.equal((await api.call('PUT', '/api/v1/repositories/offsite', { token: session, body: { url: 's3://backups/vmbak2?endpoint=https://s3.example.com' } })).json.hasCredentials, true);
  await recordBackups(api.controller.catalog, [{
    repository: 'offsite', backupId: 'b1', vmKey: 'web01', vmUuid: null, vmName: 'web01', host: 'host-a', timeMs: api.clock.nowMs(),
    logicalBytes: 1, newBytes: 1, storedBytes: 1, consistency: 'crash', incremental: false,
  }]);

  const secrets = [PASSPHRASE, S3_SECRET, SMTP_PASSWORD, WEBHOOK_SECRET, USER_PASSWORD, OTHER_PASSWORD];
  const tokenSecrets = [admin, session, apiToken, api.tokens.agent].map((tk) => tokenSecret(tk));
  const job = (await api.call('POST', '/api/v1/jobs', { token: apiToken, body: { kind: 'gc', repository: 'offsite' } })).json;
  const sample: Record<string, string> = {
    'policies/name': 'web', 'repositories/name': 'offsite', 'channels/name': 'hook', vm: 'web01', id: job.id, repository: 'offsite', backupId: 'b1',
  };
  const fill = (path: string): string => path.replace(/(?:([\w-]+)\/)?\{(\w+)\}/g, (_, segment: string | undefined, key: string) =>
    `${segment ? `${segment}/` : ''}${sample[`${segment}/${key}`] ?? sample[key]}`);
  api.controller.inventory = [{ uuid: '00000000-0000-4000-8000-000000000001', name: 'web01', state: 'running', host: 'host-a', disks: [], tags: [] }];
  await api.controller.syncInventory();
  const doc = (await api.call('GET', '/api/v1/openapi.json')).json;
  let read = 0;
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    const get = methods.get;
    if (!get || get['x-vmbak-access'] === 'agent' || get.responses['200']?.content?.['text/event-stream']) continue;
    const url = fill(path);
    const query = url.endsWith('/tokens') ? '?sessions=true' : url.endsWith('/files/find') ? '?name=*' : url.endsWith('/prune-preview') ? '?keepLast=1' : '';
    const answer = await api.call('GET', `${url}${query}`, { token: admin });
    // Browsing a backup's files opens its repository, which this test's targets do not serve
    // (test/file-api.test.ts browses a real one), nor does the prune simulator, and no job here made
    // a disk image to download: their answers, errors here, must not leak either.
    const opensRepository = /^\/api\/v1\/backups\/\{repository\}\/\{backupId\}\/files|\/prune-preview$|^\/api\/v1\/jobs\/\{id\}\/download$/.test(path);
    if (!opensRepository) assert.equal(answer.status, 200, `GET ${url}: ${answer.text}`);
    for (const secret of [...secrets, ...tokenSecrets]) assert.ok(!answer.text.includes(secret), `GET ${url} answered with a secret`);
    read++;
  }
  assert.ok(read >= 25, `${read} routes read`);
  assert.equal((await api.call('GET', '/api/v1/agent/credentials/offsite', { token: admin })).status, 403, 'not even an admin reads them back');
  const forAgent = await api.call('GET', '/api/v1/agent/credentials/offsite', { token: api.tokens.agent });
  assert.deepEqual(forAgent.json, {
    name: 'offsite', url: 's3://backups/vmbak2?endpoint=https://s3.example.com', passphrase: PASSPHRASE,
    env: { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: S3_SECRET },
  });
  const audit = (await api.call('GET', '/api/v1/audit?limit=1000', { token: admin })).json.items as Json[];
  assert.ok(audit.some((e) => e.action === 'repository.credentials-read' && e.actor === 'token:test-agent' && e.target === 'offsite'));
  assert.equal(audit.find((e) => e.action === 'repository.create').detail.request.credentials, '[redacted]');

  // Removing the credentials is the only other thing a request can do with them.
  assert.equal((await api.call('PUT', '/api/v1/repositories/offsite', { token: admin, body: { url: '/srv/vmbak', credentials: null } })).json.hasCredentials, false);
  assert.deepEqual((await api.call('GET', '/api/v1/agent/credentials/offsite', { token: api.tokens.agent })).json, { name: 'offsite', url: '/srv/vmbak', passphrase: null, env: {} });

  const log = api.logText();
  assert.ok(log.split('\n').filter(Boolean).length > 50 && log.includes('"msg":"login failed"'), 'the log was captured');
  for (const secret of [...secrets, ...tokenSecrets]) assert.ok(!log.includes(secret), `the log holds ${secret.slice(0, 12)}…`);
  assert.ok(!log.includes('Bearer'), 'no Authorization header in the log');
});
