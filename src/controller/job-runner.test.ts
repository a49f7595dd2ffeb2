// The job runner's limits with trivial executors over a real catalog file: the
// per-repository writer limit (jobs over it wait queued, jobs writing elsewhere go by), and
// backup windows on a test clock (a job not started by the window's end fails as skipped and
// is reported finished, so the controller alerts; a running `atEnd: pause` job pauses at the
// end and resumes when the window opens; `atEnd: continue` runs on).

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJob, listJobEvents, openCatalog, type CatalogJob, type OpenCatalog, type PolicySpec } from '../catalog/index.ts';
import { repositoriesWritten } from './backup-job.ts';
import { JobRunner, type JobExecutor } from './job-runner.ts';
import type { JobUpdate } from './controller-api.ts';
import { windowEndMs, windowStartAfterMs } from './scheduler.ts';

async function openTestCatalog(t: TestContext): Promise<OpenCatalog> {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-job-runner-'));
  const catalog = await openCatalog(join(dir, 'catalog.sqlite'));
  t.after(() => { catalog.close(); rmSync(dir, { recursive: true, force: true }); });
  return catalog;
}

/** An executor whose jobs run until the test releases them, stepping through the pause gate. */
function heldExecutor(): { executor: JobExecutor; started: string[]; release: (jobId: string) => void; steps: Map<string, number> } {
  const started: string[] = [];
  const steps = new Map<string, number>();
  const releases = new Map<string, () => void>();
  const executor: JobExecutor = async (ctx) => {
    started.push(ctx.job.id);
    let released = false;
    releases.set(ctx.job.id, () => { released = true; });
    while (!released) {
      await ctx.gate.wait(ctx.signal);
      steps.set(ctx.job.id, (steps.get(ctx.job.id) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, 5));
    }
    return { state: 'succeeded' };
  };
  return { executor, started, steps, release: (id) => releases.get(id)?.() };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('at most maxWritersPerRepository jobs write to one repository; the rest wait queued while jobs for other repositories start', async (t) => {
  const catalog = await openTestCatalog(t);
  const held = heldExecutor();
  const runner = new JobRunner({ catalog, host: 'h', streams: 10, maxWritersPerRepository: 2, executors: { backup: held.executor } });
  t.after(() => runner.stop('test over'));

  const a = [];
  for (let i = 0; i < 4; i++) a.push(await runner.submit({ kind: 'backup', trigger: 'manual' }, { writes: ['a'] }));
  const b = await runner.submit({ kind: 'backup', trigger: 'manual' }, { writes: ['b', 'a'] });
  const c = await runner.submit({ kind: 'backup', trigger: 'manual' }, { writes: ['c'] });
  await until('three jobs to start', () => held.started.length === 3);
  assert.deepEqual(held.started, [a[0]!.id, a[1]!.id, c.id], 'a full repository holds back every job writing to it, not the others');
  assert.equal(runner.writersOf('a'), 2);
  assert.equal((await getJob(catalog, a[2]!.id))!.state, 'queued');
  assert.match((await listJobEvents(catalog, a[2]!.id)).map((e) => e.message).join('\n'), /waiting: a already has 2 writing job/);

  held.release(a[0]!.id);
  await until('the next job for a to start', () => held.started.length === 4);
  assert.equal(held.started[3], a[2]!.id, 'queued jobs start in their order');
  assert.equal(runner.writersOf('a'), 2);
  for (const id of [a[1]!.id, a[2]!.id]) held.release(id);
  await until('the rest to start', () => held.started.length === 6);
  assert.deepEqual(held.started.slice(4), [a[3]!.id, b.id]);
  for (const id of [c.id, a[3]!.id, b.id]) held.release(id);
  await until('all to finish', async () => (await getJob(catalog, b.id))!.state === 'succeeded');
  await until('the writer counts to drop', () => runner.writersOf('a') === 0 && runner.writersOf('b') === 0);
});

test('backup windows: a job not started by the end fails as skipped and is reported; atEnd pause pauses until the window reopens, continue runs on', async (t) => {
  const catalog = await openTestCatalog(t);
  let nowMs = Date.UTC(2026, 0, 10, 5, 0);
  const endMs = Date.UTC(2026, 0, 10, 6, 0);
  const reopenMs = Date.UTC(2026, 0, 11, 1, 0);
  const held = heldExecutor();
  const finished: CatalogJob[] = [];
  const runner = new JobRunner({
    catalog, host: 'h', streams: 2, executors: { backup: held.executor }, clock: { nowMs: () => nowMs },
    windowCheckEveryMs: 3_600_000, onFinished: (job) => finished.push(job),
  });
  t.after(() => runner.stop('test over'));

  const window = { notAfterMs: endMs, resumeAtMs: reopenMs };
  const paused = await runner.submit({ kind: 'backup', policy: 'p', trigger: 'schedule', params: { ...window, atEnd: 'pause' } });
  const continued = await runner.submit({ kind: 'backup', policy: 'q', trigger: 'schedule', params: { ...window, atEnd: 'continue' } });
  const late = await runner.submit({ kind: 'backup', policy: 'r', trigger: 'schedule', params: { ...window, atEnd: 'pause' } });
  await until('two jobs to run', () => held.started.length === 2);

  nowMs = endMs + 1000;
  await runner.enforceWindows();
  const skipped = (await getJob(catalog, late.id))!;
  assert.equal(skipped.state, 'failed');
  assert.match(skipped.error!, /^skipped: not started before the backup window ended \(2026-01-10T06:00:00.000Z\)/);
  assert.deepEqual(finished.map((j) => [j.id, j.state]), [[late.id, 'failed']], 'a skipped job is reported finished (the controller alerts job.failed)');
  assert.equal((await getJob(catalog, paused.id))!.state, 'paused');
  assert.equal((await getJob(catalog, continued.id))!.state, 'running');
  assert.match((await listJobEvents(catalog, paused.id)).map((e) => e.message).join('\n'), /paused: the backup window ended; resumes at 2026-01-11T01:00:00.000Z/);
  const stepsAtPause = held.steps.get(paused.id)!;
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(held.steps.get(paused.id)! <= stepsAtPause + 1, 'a paused job makes no progress');
  assert.ok(held.steps.get(continued.id)! > 3, 'atEnd continue runs on');

  nowMs = reopenMs;
  await runner.enforceWindows();
  assert.equal((await getJob(catalog, paused.id))!.state, 'running');
  await until('the resumed job to step on', () => held.steps.get(paused.id)! > stepsAtPause + 2);
  for (const id of [paused.id, continued.id]) held.release(id);
  await until('both to finish', async () => (await getJob(catalog, paused.id))!.state === 'succeeded' && (await getJob(catalog, continued.id))!.state === 'succeeded');
});

test('what the controller gives the runner: window end and reopening in the policy time zone, and the repositories a backup writes', () => {
  const spec = { schedule: '0 22 * * *', timezone: 'Europe/Berlin', window: { start: '22:00', end: '06:00', atEnd: 'pause' as const } } as PolicySpec;
  const fireMs = Date.UTC(2026, 0, 10, 21, 0); // 22:00 in Berlin
  const endMs = windowEndMs(spec, fireMs)!;
  assert.equal(new Date(endMs).toISOString(), '2026-01-11T05:00:00.000Z');
  assert.equal(new Date(windowStartAfterMs(spec, endMs)!).toISOString(), '2026-01-11T21:00:00.000Z');
  assert.deepEqual(repositoriesWritten({ repositories: ['a', 'b'], spread: false, copyTo: ['c'] }, {}), ['a', 'c']);
  assert.deepEqual(repositoriesWritten({ repositories: ['a', 'b'], spread: true, copyTo: [] }, {}), ['a', 'b']);
  assert.deepEqual(repositoriesWritten(undefined, { repositories: ['x', 'y'] }), ['x']);
});

test('progress updates carry one entry per disk, with its bytes, total, rate and whether it is done', async (t) => {
  const catalog = await openTestCatalog(t);
  let release = () => {};
  const executor: JobExecutor = async (ctx) => {
    const vda = { vm: 'web', disk: 'vda', bytesToRead: 100, bytesRead: 100, startedMs: Date.now() - 1000, finishedMs: Date.now() };
    const vdb = { vm: 'web', disk: 'vdb', bytesToRead: 400, bytesRead: 50, startedMs: Date.now(), finishedMs: null };
    ctx.progress.disks.push(vda, vdb);
    await new Promise<void>((r) => { release = r; });
    return { state: 'succeeded' };
  };
  const runner = new JobRunner({ catalog, host: 'h', streams: 1, executors: { backup: executor }, progressEveryMs: 10 });
  t.after(() => runner.stop('test over'));
  const seen: JobUpdate[] = [];
  runner.subscribe((u) => seen.push(u));
  const job = await runner.submit({ kind: 'backup', trigger: 'manual' });
  await until('an update with two disks', () => seen.some((u) => u.disks.length === 2));
  release();
  await until('the job to end', async () => (await getJob(catalog, job.id))?.state === 'succeeded');
  const disks = seen.find((u) => u.disks.length === 2)!.disks;
  assert.deepEqual(disks.map((d) => [d.disk, d.bytesRead, d.bytesTotal, d.done]), [['vda', 100, 100, true], ['vdb', 50, 400, false]]);
  assert.ok(disks[0]!.rateBytesPerSec > 0 && disks[0]!.rateBytesPerSec <= 100, `a done disk's rate is over its own time (${disks[0]!.rateBytesPerSec})`);
});
