// A repository's writer limit across controllers sharing one catalog (two job runners, each
// on its own connection — on SQLite and, through postgres.test.ts, on PostgreSQL): never more
// writers than the limit in total, a slot whose job finished without releasing it (its
// controller killed) is free again, and one busy host's long queue does not starve another
// host's jobs; a host's jobs in flight stay within its agent's streams. Pause, resume and
// abort asked of the controller that does not hold a job reach the one that does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWriters, getJob, openCatalog, requestJobControl, setJobState, takeWriterSlots, type Catalog, type CatalogJob } from '../catalog/index.ts';
import { beforeCatalogRemoval, tempCatalog } from '../catalog/catalog-test-support.ts';
import { JobRunner, type JobExecutor } from './job-runner.ts';

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Jobs that run until released; counts how many run at once, across every runner using it. */
function sharedExecutor() {
  let now = 0;
  let most = 0;
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  const executor: JobExecutor = async (ctx) => {
    started.push(ctx.job.id);
    now++;
    most = Math.max(most, now);
    await new Promise<void>((resolve) => releases.set(ctx.job.id, resolve));
    now--;
    return { state: 'succeeded' };
  };
  return {
    executor, started, most: () => most,
    releaseAll: () => { for (const [id, release] of releases) { releases.delete(id); release(); } },
  };
}

test('two controllers on one catalog never have more writers on a repository than its limit', async (t) => {
  const cleanup = beforeCatalogRemoval(t);
  const first = await tempCatalog(t);
  const second = await openCatalog(first.url, { clock: first.clock });
  cleanup(() => second.close());
  const shared = sharedExecutor();
  const runners = [first, second].map((catalog: Catalog, i) => new JobRunner({
    catalog, host: `ctl${i}`, holder: `ctl${i}`, streams: 10, maxWritersPerRepository: 3, executors: { backup: shared.executor }, windowCheckEveryMs: 20,
  }));
  cleanup(() => Promise.all(runners.map((r) => r.stop('test over'))));

  const jobs: CatalogJob[] = [];
  for (let i = 0; i < 5; i++) for (const runner of runners) jobs.push(await runner.submit({ kind: 'backup', trigger: 'manual' }, { writes: ['shared'] }));
  await until('three writers', () => shared.started.length === 3);
  await new Promise((r) => setTimeout(r, 200)); // both runners have checked for slots again meanwhile
  assert.equal(shared.started.length, 3, 'the fourth job waits although each runner alone has room');
  assert.equal(await countWriters(first, 'shared'), 3);
  while (shared.started.length < jobs.length) {
    shared.releaseAll();
    await new Promise((r) => setTimeout(r, 30));
  }
  shared.releaseAll();
  await until('all to finish', async () => (await Promise.all(jobs.map((j) => getJob(first, j.id)))).every((j) => j!.state === 'succeeded'));
  assert.equal(shared.most(), 3, 'never more than the limit at once, over both controllers');
  assert.equal(await countWriters(first, 'shared'), 0);
});

test('a slot held by a job that ended without releasing it (its controller killed) is free again', async (t) => {
  const cleanup = beforeCatalogRemoval(t);
  const catalog = await tempCatalog(t);
  const runner = new JobRunner({ catalog, host: 'h', streams: 1, executors: {} });
  cleanup(() => runner.stop('test over'));
  // Jobs recorded but never started here: only their catalog state matters for the slots.
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => runner.submit({ kind: 'verify', trigger: 'manual' })));
  await runner.stop('test over');
  for (const job of [a!, b!, c!]) await catalog.db.updateTable('jobs').set({ state: 'running' }).where('id', '=', job.id).execute();
  assert.equal(await takeWriterSlots(catalog, a!.id, ['r'], 1, 'dead controller'), null);
  assert.equal(await takeWriterSlots(catalog, b!.id, ['r'], 1, 'other'), 'r', 'the slot is held while its job is active');
  await setJobState(catalog, a!.id, 'interrupted', 'controller gone');
  assert.equal(await takeWriterSlots(catalog, b!.id, ['r'], 1, 'other'), null, 'the finished job\'s slot is taken over');
  assert.equal(await takeWriterSlots(catalog, c!.id, ['r', 's'], 1, 'other'), 'r');
  assert.equal(await countWriters(catalog, 's'), 0, 'all or nothing: c took no slot on s');
});

test('a busy host does not starve another host\'s jobs, and a host has no more jobs in flight than its agent\'s streams', async (t) => {
  const cleanup = beforeCatalogRemoval(t);
  const catalog = await tempCatalog(t);
  const shared = sharedExecutor();
  const runner = new JobRunner({
    catalog, host: 'ctl', streams: 100, maxWritersPerRepository: 2, executors: { backup: shared.executor },
    hostLimit: (host) => (host === 'busy' ? 2 : null),
  });
  cleanup(() => runner.stop('test over'));
  const busy: CatalogJob[] = [];
  for (let i = 0; i < 6; i++) busy.push(await runner.submit({ kind: 'backup', trigger: 'manual', host: 'busy' }, { writes: ['r'] }));
  await until('the busy host to fill the slots', () => shared.started.length === 2);
  const quiet = await runner.submit({ kind: 'backup', trigger: 'manual', host: 'quiet' }, { writes: ['r'] });
  const third = await runner.submit({ kind: 'backup', trigger: 'manual', host: 'third' }, { writes: ['other'] });
  await until('the job writing elsewhere to start', () => shared.started.includes(third.id));
  shared.releaseAll();
  await until('two more to start', () => shared.started.length === 5);
  assert.ok(shared.started.slice(3).includes(quiet.id), `the quiet host's job goes before the busy host's third: ${shared.started.join(' ')}`);
  while ((await Promise.all(busy.map((j) => getJob(catalog, j.id)))).some((j) => j!.state !== 'succeeded')) {
    shared.releaseAll();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(shared.most() <= 3, `at most 2 writers on r plus the job writing elsewhere: ${shared.most()}`);
  shared.releaseAll();

  // Jobs of the busy host writing to repositories with room: still two at a time, its streams.
  const before = shared.started.length;
  const spread: CatalogJob[] = [];
  for (let i = 0; i < 4; i++) spread.push(await runner.submit({ kind: 'backup', trigger: 'manual', host: 'busy' }, { writes: [`x${i}`] }));
  await until('two of them to start', () => shared.started.length === before + 2);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(shared.started.length, before + 2, 'the host\'s limit holds them, not the repositories');
  while ((await Promise.all(spread.map((j) => getJob(catalog, j.id)))).some((j) => j!.state !== 'succeeded')) {
    shared.releaseAll();
    await new Promise((r) => setTimeout(r, 20));
  }
});

test('pause, resume and abort asked through another controller reach the runner that holds the job', async (t) => {
  const cleanup = beforeCatalogRemoval(t);
  const catalog = await tempCatalog(t);
  const other = await openCatalog(catalog.url, { clock: catalog.clock });
  cleanup(() => other.close());
  let steps = 0;
  const runner = new JobRunner({
    catalog, host: 'a', streams: 1, windowCheckEveryMs: 20,
    executors: {
      backup: async (ctx) => {
        while (!ctx.signal.aborted) {
          await ctx.gate.wait(ctx.signal).catch(() => {});
          steps++;
          await new Promise((r) => setTimeout(r, 5));
        }
        return { state: 'succeeded' };
      },
    },
  });
  cleanup(() => runner.stop('test over'));
  const running = await runner.submit({ kind: 'backup', trigger: 'manual' });
  const queued = await runner.submit({ kind: 'backup', trigger: 'manual' });
  await until('the job to run', () => steps > 0);

  await requestJobControl(other, running.id, 'pause', 'controller b');
  await until('the pause', async () => (await getJob(other, running.id))!.state === 'paused');
  const at = steps;
  await new Promise((r) => setTimeout(r, 150));
  assert.ok(steps <= at + 1, 'no progress while paused');
  await requestJobControl(other, running.id, 'resume', 'controller b');
  await until('the resume', async () => (await getJob(other, running.id))!.state === 'running' && steps > at + 2);
  await requestJobControl(other, queued.id, 'abort', 'controller b');
  await until('the queued job aborted', async () => (await getJob(other, queued.id))!.state === 'aborted');
  await requestJobControl(other, running.id, 'abort', 'controller b');
  await until('the running job aborted', async () => (await getJob(other, running.id))!.state === 'aborted');
});
