import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { execFile } from 'node:child_process';
import { sql } from 'kysely';
import { isVmbakError } from '../core/index.ts';
import { loadSecretsBox, SecretsBox } from './secrets.ts';
import { defaultCareSpec } from './care-spec.ts';
import { getRepository, readRepositoryCredentials, upsertRepository } from './repositories.ts';
import { readAlertChannelSecret, upsertAlertChannel, getAlertChannel } from './alert-channels.ts';
import { tempCatalog, tempDir } from './catalog-test-support.ts';

test('the key file is created 0600 with 32 bytes, and the same key is loaded again', (t) => {
  const path = join(tempDir(t), 'secrets.key');
  const box = loadSecretsBox(path);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(readFileSync(path).length, 32);
  const again = loadSecretsBox(path);
  assert.equal(again.keyId, box.keyId);
  assert.equal(again.open(box.seal('s3cret', 'repository:a'), 'repository:a'), 's3cret');
});

test('a missing key file is an error when creating is off; a wide or short one is refused', (t) => {
  const dir = tempDir(t);
  assert.throws(() => loadSecretsBox(join(dir, 'none.key'), { create: false }), (err) => isVmbakError(err, 'SECRETS_KEY_INVALID') && /none\.key/.test(err.message));
  const wide = join(dir, 'wide.key');
  writeFileSync(wide, Buffer.alloc(32, 1), { mode: 0o644 });
  chmodSync(wide, 0o644);
  assert.throws(() => loadSecretsBox(wide), /readable by others \(mode 644\); chmod 600 it/);
  const short = join(dir, 'short.key');
  writeFileSync(short, Buffer.alloc(16, 1), { mode: 0o600 });
  assert.throws(() => loadSecretsBox(short), /holds 16 bytes, a key is 32/);
});

test('a ciphertext opens only with its key and for its purpose, and the key never prints', () => {
  const box = new SecretsBox(Buffer.alloc(32, 1));
  const other = new SecretsBox(Buffer.alloc(32, 2));
  const sealed = box.seal('hunter2', 'repository:local');
  assert.notEqual(box.seal('hunter2', 'repository:local'), sealed, 'a fresh IV each time');
  assert.throws(() => other.open(sealed, 'repository:local'), (err) => isVmbakError(err, 'SECRET_UNREADABLE') && err.message.includes(`sealed under secrets key ${box.keyId}`));
  assert.throws(() => box.open(sealed, 'repository:other'), /altered or belongs to another record/);
  const tampered = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'BB' : 'AA');
  assert.throws(() => box.open(tampered, 'repository:local'), /SECRET|decrypt/i);
  const key01 = Buffer.alloc(32, 1);
  for (const shown of [inspect(box, { showHidden: true, depth: 5 }), JSON.stringify({ box }), String(box)]) {
    assert.ok(!shown.includes(key01.toString('hex')) && !shown.includes(key01.toString('base64')) && !shown.includes('1, 1, 1'), shown);
  }
});

test('repository credentials are stored sealed, read back deliberately, and re-applying them changes nothing', async (t) => {
  const catalog = await tempCatalog(t);
  const box = new SecretsBox(Buffer.alloc(32, 3));
  const creds = { passphrase: 'correct horse', env: { AWS_SECRET_ACCESS_KEY: 'abc', AWS_ACCESS_KEY_ID: 'id' } };
  assert.equal(await upsertRepository(catalog, box, { name: 'local', url: '/srv/vmbak', credentials: creds }), 'created');
  const { rows } = await sql<{ credentials_sealed: string }>`select credentials_sealed from repositories`.execute(catalog.db);
  assert.ok(!rows[0]!.credentials_sealed.includes('correct'), 'no clear text in the table');
  assert.deepEqual(await getRepository(catalog, 'local'), {
    name: 'local', url: '/srv/vmbak', hasCredentials: true, managedByConfig: false, createdMs: catalog.clock.nowMs(), updatedMs: catalog.clock.nowMs(),
    care: defaultCareSpec(),
  });
  assert.deepEqual(await readRepositoryCredentials(catalog, box, 'local'), { passphrase: 'correct horse', env: { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'abc' } });
  const reordered = { env: { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'abc' }, passphrase: 'correct horse' };
  assert.equal(await upsertRepository(catalog, box, { name: 'local', url: '/srv/vmbak', credentials: reordered }), 'unchanged');
  assert.equal(await upsertRepository(catalog, box, { name: 'local', url: '/srv/vmbak' }), 'unchanged', 'credentials left out are kept');
  assert.equal(await upsertRepository(catalog, box, { name: 'local', url: '/srv/vmbak', credentials: { passphrase: 'new' } }), 'updated');
  assert.equal(await upsertRepository(catalog, box, { name: 'local', url: '/srv/vmbak', credentials: null }), 'updated');
  assert.equal(await readRepositoryCredentials(catalog, box, 'local'), null);
  await assert.rejects(readRepositoryCredentials(catalog, box, 'nope'), (err) => isVmbakError(err, 'CATALOG_NOT_FOUND'));
});

test('an alert channel’s secret is sealed beside its spec and never in it', async (t) => {
  const catalog = await tempCatalog(t);
  const box = new SecretsBox(Buffer.alloc(32, 4));
  const spec = { type: 'webhook' as const, url: 'https://hooks.example.com/vmbak' };
  assert.equal(await upsertAlertChannel(catalog, box, { name: 'hook', spec, secret: 'sign-me' }), 'created');
  assert.equal(await upsertAlertChannel(catalog, box, { name: 'hook', spec, secret: 'sign-me' }), 'unchanged');
  const record = (await getAlertChannel(catalog, 'hook'))!;
  assert.equal(record.hasSecret, true);
  assert.ok(!JSON.stringify(record).includes('sign-me'));
  assert.equal(await readAlertChannelSecret(catalog, box, 'hook'), 'sign-me');
  assert.deepEqual(record.spec, { type: 'webhook', url: 'https://hooks.example.com/vmbak', timeout: '10s', retries: 4 });
});

test('two controllers creating the key file at once end up with the same key', async (t) => {
  const path = join(tempDir(t), 'secrets.key');
  const code = `import { loadSecretsBox } from ${JSON.stringify(new URL('./secrets.ts', import.meta.url).pathname)};
    process.stdout.write(loadSecretsBox(${JSON.stringify(path)}).keyId);`;
  const run = () => new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code], (err, out) => (err ? reject(err) : resolve(out)));
  });
  const ids = await Promise.all([run(), run(), run()]);
  assert.equal(new Set(ids).size, 1, ids.join(' '));
  assert.equal(loadSecretsBox(path).keyId, ids[0]);
});
