import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { execFile } from 'node:child_process';
import { sql } from 'kysely';
import { isVmbakError } from '../core/index.ts';
import { openCatalog } from './open.ts';
import { tempCatalog, tempDir } from './catalog-test-support.ts';

test('a new catalog runs in WAL mode with foreign keys and a busy timeout, at the current schema', async (t) => {
  const catalog = await tempCatalog(t);
  const pragma = async (name: string) => Object.values((await sql.raw(`PRAGMA ${name}`).execute(catalog.db)).rows[0] as object)[0];
  assert.equal(await pragma('journal_mode'), 'wal');
  assert.equal(await pragma('foreign_keys'), 1);
  assert.equal(await pragma('busy_timeout'), 5000);
  const { rows } = await sql<{ name: string }>`select name from catalog_migration`.execute(catalog.db);
  assert.deepEqual(rows.map((r) => r.name), ['0001-initial', '0002-repository-care', '0003-file-index', '0004-fleet', '0005-backup-full-reason']);
});

test('opening again keeps the data and migrates nothing twice', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'sub', 'catalog.db');
  const first = await openCatalog(path);
  await first.db.insertInto('hosts').values({ name: 'h1', uri: null, state: 'online', first_seen_ms: 1, last_seen_ms: 1 }).execute();
  await first.close();
  const again = await openCatalog(path);
  t.after(() => again.close());
  assert.deepEqual((await again.db.selectFrom('hosts').select('name').execute()).map((r) => r.name), ['h1']);
});

test('foreign keys hold: a claim for an unknown policy is refused', async (t) => {
  const catalog = await tempCatalog(t);
  await assert.rejects(
    catalog.db.insertInto('schedule_claims').values({ policy: 'nope', fire_ms: 1, claimed_ms: 1, claimed_by: 'x', job_id: null }).execute(),
    /FOREIGN KEY constraint failed/,
  );
});

test('a catalog written by a newer vmbak is refused with a clear error', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'catalog.db');
  await (await openCatalog(path)).close();
  const raw = new DatabaseSync(path);
  raw.exec(`insert into catalog_migration (name, timestamp) values ('9999-future', '2030-01-01')`);
  raw.close();
  await assert.rejects(openCatalog(path), (err) => isVmbakError(err, 'CATALOG_SCHEMA_NEWER') && /9999-future/.test(err.message));
});

test('a catalog that cannot be opened names its location', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(openCatalog(join(dir)), (err) => isVmbakError(err, 'CATALOG_OPEN_FAILED') && err.message.includes(dir));
  await assert.rejects(openCatalog('postgres://u:secret@db/vmbak'), (err) => isVmbakError(err, 'CATALOG_OPEN_FAILED') && !err.message.includes('secret'));
});

test('a transaction rolls back as a whole', async (t) => {
  const catalog = await tempCatalog(t);
  await assert.rejects(catalog.db.transaction().execute(async (trx) => {
    await trx.insertInto('hosts').values({ name: 'h1', uri: null, state: 'online', first_seen_ms: 1, last_seen_ms: 1 }).execute();
    throw new Error('boom');
  }), /boom/);
  assert.equal((await catalog.db.selectFrom('hosts').selectAll().execute()).length, 0);
});

test('two processes opening a new catalog at once both get the schema, migrated once', async (t) => {
  const path = join(tempDir(t), 'catalog.db');
  const code = `import { openCatalog } from ${JSON.stringify(new URL('./open.ts', import.meta.url).pathname)};
    const c = await openCatalog(${JSON.stringify(path)}); await c.close(); process.stdout.write('ok');`;
  const run = () => new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code], (err, out, stderr) => (err ? reject(new Error(stderr)) : resolve(out)));
  });
  assert.deepEqual(await Promise.all([run(), run(), run()]), ['ok', 'ok', 'ok']);
  const catalog = await openCatalog(path);
  t.after(() => catalog.close());
  const { rows } = await sql<{ name: string }>`select name from catalog_migration`.execute(catalog.db);
  assert.deepEqual(rows.map((r) => r.name), ['0001-initial', '0002-repository-care', '0003-file-index', '0004-fleet', '0005-backup-full-reason']);
});
