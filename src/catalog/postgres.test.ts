// The catalog on PostgreSQL (Debian's server, started by the test on a unix socket): the
// portable catalog tests run again against it — the same queries and migrations on the other
// database — and what only a server has is tested here: several processes migrating a new
// database at once, a server that is down (one clear line, no password in it), and a
// restarted server that the catalog reconnects to.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { isVmbakError } from '../core/index.ts';
import { postgresUnavailable, startPostgres, type PostgresServer } from '../../test/support/postgres.ts';
import { createJob, listJobs, openCatalog } from './index.ts';

const unavailable = postgresUnavailable();
let server: PostgresServer;

before(async () => { if (!unavailable) server = await startPostgres(); }, { timeout: 60_000 });
after(async () => { await server?.close(); });

/** The catalog tests written against tempCatalog(), which then make each catalog a database on the server. */
const PORTABLE_TESTS = [
  'src/catalog/access.test.ts', 'src/catalog/backups.test.ts', 'src/catalog/claims.test.ts', 'src/catalog/jobs.test.ts',
  'src/catalog/secrets.test.ts', 'src/config/config.test.ts', 'src/controller/host-watch.test.ts', 'src/alerts/webhook.test.ts',
  'src/controller/shared-catalog.test.ts',
];

function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT, a child `node --test` reports in plain text instead of to this runner.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    execFile(process.execPath, args, { cwd: root, env: { ...inherited, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

test('the portable catalog tests pass on PostgreSQL', { timeout: 300_000 }, async (t) => {
  if (unavailable) return t.skip(unavailable);
  const r = await node(['--test', '--test-reporter=spec', '--test-force-exit', '--test-concurrency=1', ...PORTABLE_TESTS], { VMBAK_TEST_POSTGRES: server.adminUrl });
  const summary = r.out.split('\n').filter((l) => /^ℹ (tests|pass|fail)|^✖/.test(l)).join('\n');
  assert.equal(r.code, 0, `${summary}\n${r.out.slice(-4000)}`);
  assert.match(summary, /ℹ fail 0/);
  assert.ok(Number(/ℹ pass (\d+)/.exec(summary)?.[1]) >= 35, `the files' tests all ran: ${summary}`);
});

test('processes opening a new PostgreSQL catalog at once all get the schema, migrated once', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const url = await server.createDatabase();
  t.after(() => server.dropDatabase(url));
  const code = `import { openCatalog } from ${JSON.stringify(new URL('./open.ts', import.meta.url).pathname)};
    const c = await openCatalog(${JSON.stringify(url)}); await c.close(); process.stdout.write('ok');`;
  const runs = await Promise.all([1, 2, 3].map(() => node(['--input-type=module', '-e', code])));
  assert.deepEqual(runs.map((r) => r.out), ['ok', 'ok', 'ok']);
  const catalog = await openCatalog(url);
  t.after(() => catalog.close());
  const { rows } = await sql<{ name: string }>`select name from catalog_migration order by name`.execute(catalog.db);
  assert.deepEqual(rows.map((r) => r.name), ['0001-initial', '0002-repository-care', '0003-file-index', '0004-fleet', '0005-backup-full-reason']);
});

test('a server that is down is one clear line without the password; after a restart the catalog works again', async (t) => {
  if (unavailable) return t.skip(unavailable);
  const url = await server.createDatabase();
  const catalog = await openCatalog(url);
  t.after(async () => { await catalog.close(); await server.dropDatabase(url); });
  await createJob(catalog, { kind: 'gc', policy: null, trigger: 'manual', params: { repository: 'local' }, host: 'kvm1' });

  await server.stop();
  const withPassword = new URL(url);
  withPassword.password = 's3cret-pw';
  await assert.rejects(openCatalog(withPassword.toString()), (err) => {
    assert.ok(isVmbakError(err, 'CATALOG_OPEN_FAILED'), String(err));
    assert.match(err.message, /^cannot open the catalog postgresql:\/\/postgres:\*\*\*@localhost\/vmbak_\w+\?host=.*: .+/);
    assert.doesNotMatch(err.message, /s3cret-pw/);
    return true;
  });
  await assert.rejects(listJobs(catalog), 'a query while the server is down fails');
  await server.restart();
  const jobs = await listJobs(catalog);
  assert.deepEqual([jobs.total, typeof jobs.items[0]!.createdMs], [1, 'number'], 'the pool reconnects; BIGINT columns are numbers');
});
