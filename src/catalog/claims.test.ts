import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { claimCareFiring, claimFiring, lastClaimedCareFiring, lastClaimedFiring, pruneClaims, setCareClaimJob, setClaimJob } from './claims.ts';
import { upsertRepository } from './repositories.ts';
import { SecretsBox } from './secrets.ts';
import { openCatalog } from './open.ts';
import { upsertPolicy } from './policies.ts';
import { beforeCatalogRemoval, tempCatalog, tempCatalogLocation } from './catalog-test-support.ts';

const spec = { vms: ['web*'], repositories: ['local'], schedule: '*/20 * * * * *' };
const FIRINGS = 150;

/**
 * A process that opens the catalog, reads a common start time from stdin, then claims firing i
 * at start + i × 8 ms (plus up to 3 ms of jitter) and prints the ones it won. The shared
 * timetable keeps both in the race even when the machine is loaded and one starts late.
 */
function claimer(path: string, name: string) {
  const code = `
    import { openCatalog, claimFiring } from ${JSON.stringify(new URL('./index.ts', import.meta.url).pathname)};
    const catalog = await openCatalog(${JSON.stringify(path)});
    process.stdout.write('ready\\n');
    let input = '';
    process.stdin.on('data', (d) => { input += d; });
    await new Promise((resolve) => process.stdin.once('end', resolve));
    const startMs = Number(input);
    const won = [];
    for (let i = 0; i < ${FIRINGS}; i++) {
      const wait = startMs + i * 8 + Math.random() * 3 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (await claimFiring(catalog, 'web', i * 20000, ${JSON.stringify(name)})) won.push(i * 20000);
    }
    await catalog.close();
    process.stdout.write(JSON.stringify(won) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { out += d; if (out.includes('ready\n')) resolve(); }));
  const done = new Promise<number[]>((resolve, reject) => child.on('exit', (code) => {
    if (code !== 0) reject(new Error(`${name} exited ${code}`));
    else resolve(JSON.parse(out.split('\n')[1]!) as number[]);
  }));
  return { child, ready, done };
}

test('two processes racing over the same firings: each firing is claimed exactly once', async (t) => {
  const path = await tempCatalogLocation(t);
  const setup = await openCatalog(path);
  await upsertPolicy(setup, { name: 'web', spec });
  await setup.close();
  const a = claimer(path, 'a');
  const b = claimer(path, 'b');
  await Promise.all([a.ready, b.ready]);
  const startMs = String(Date.now() + 200);
  a.child.stdin.end(startMs);
  b.child.stdin.end(startMs);
  const [wonA, wonB] = await Promise.all([a.done, b.done]);
  const all = [...wonA, ...wonB].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: FIRINGS }, (_, i) => i * 20000), 'every firing claimed once, none twice');
  assert.ok(wonA.length > 0 && wonB.length > 0, `both processes won some (a ${wonA.length}, b ${wonB.length})`);
});

test('two connections in one process: the second claim of a firing loses', async (t) => {
  const cleanup = beforeCatalogRemoval(t);
  const first = await tempCatalog(t);
  const second = await openCatalog(first.url);
  cleanup(() => second.close());
  await upsertPolicy(first, { name: 'web', spec });
  const results = await Promise.all([claimFiring(first, 'web', 1000, 'a'), claimFiring(second, 'web', 1000, 'b')]);
  assert.deepEqual(results.sort(), [false, true]);
  assert.equal(await claimFiring(first, 'web', 1000), false, 'a restart claiming again loses too');
});

test('the newest claimed firing is remembered, and pruning keeps it', async (t) => {
  const catalog = await tempCatalog(t);
  await upsertPolicy(catalog, { name: 'web', spec });
  await upsertPolicy(catalog, { name: 'db', spec });
  assert.equal(await lastClaimedFiring(catalog, 'web'), null);
  for (const ms of [1000, 2000, 3000]) await claimFiring(catalog, 'web', ms);
  await claimFiring(catalog, 'db', 500);
  await setClaimJob(catalog, 'web', 3000, 'j1');
  assert.equal(await lastClaimedFiring(catalog, 'web'), 3000);
  assert.equal(await pruneClaims(catalog, 10_000), 2, 'web 1000 and 2000 go; each policy keeps its newest');
  assert.equal(await lastClaimedFiring(catalog, 'web'), 3000);
  assert.equal(await lastClaimedFiring(catalog, 'db'), 500);
});

test('care firings are claimed once per (repository, task, time) and remembered per task', async (t) => {
  const catalog = await tempCatalog(t);
  await upsertRepository(catalog, new SecretsBox(Buffer.alloc(32, 1)), { name: 'local', url: '/srv/vmbak' });
  assert.equal(await claimCareFiring(catalog, 'local', 'verifyNew', 1000, 'a'), true);
  assert.equal(await claimCareFiring(catalog, 'local', 'verifyNew', 1000, 'b'), false, 'a second controller loses');
  assert.equal(await claimCareFiring(catalog, 'local', 'gc', 1000, 'b'), true, 'another task of the same time is its own firing');
  await setCareClaimJob(catalog, 'local', 'gc', 1000, 'j9');
  assert.equal(await lastClaimedCareFiring(catalog, 'local', 'verifyNew'), 1000);
  assert.equal(await lastClaimedCareFiring(catalog, 'local', 'verifyAll'), null);
  await claimCareFiring(catalog, 'local', 'verifyNew', 2000);
  assert.equal(await pruneClaims(catalog, 10_000), 1, 'verifyNew 1000 goes; gc keeps its only (newest) claim');
  assert.equal(await lastClaimedCareFiring(catalog, 'local', 'gc'), 1000);
});
