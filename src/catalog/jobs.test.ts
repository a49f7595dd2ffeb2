import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVmbakError } from '../core/index.ts';
import { createJob, deleteJobsBefore, getJob, listJobs, markJobsInterrupted, setJobProgress, setJobState } from './jobs.ts';
import { countJobVms, listJobVms, recordJobVm } from './job-vms.ts';
import { appendJobEvent, listJobEvents } from './job-events.ts';
import { tempCatalog, testClock } from './catalog-test-support.ts';

test('a job goes queued → running ⇄ paused → succeeded, with its times', async (t) => {
  const clock = testClock(1_000_000);
  const catalog = await tempCatalog(t, clock);
  const job = await createJob(catalog, { kind: 'backup', policy: 'web', trigger: 'schedule', host: 'h1', params: { vms: ['web*'] } });
  assert.equal(job.state, 'queued');
  clock.advance(1000);
  assert.equal((await setJobState(catalog, job.id, 'running')).startedMs, 1_001_000);
  clock.advance(1000);
  await setJobState(catalog, job.id, 'paused');
  clock.advance(1000);
  assert.equal((await setJobState(catalog, job.id, 'running')).startedMs, 1_001_000, 'resuming keeps the start time');
  await setJobProgress(catalog, job.id, 4096, 1024);
  clock.advance(1000);
  const done = await setJobState(catalog, job.id, 'succeeded');
  assert.deepEqual([done.state, done.finishedMs, done.bytesRead, done.bytesWritten, done.params], ['succeeded', 1_004_000, 4096, 1024, { vms: ['web*'] }]);
});

test('a finished job never changes state again, and an unknown job is named', async (t) => {
  const catalog = await tempCatalog(t);
  const job = await createJob(catalog, { kind: 'verify', trigger: 'manual' });
  await setJobState(catalog, job.id, 'running');
  await setJobState(catalog, job.id, 'failed', 'target unreachable');
  await assert.rejects(setJobState(catalog, job.id, 'running'), (err) => isVmbakError(err, 'JOB_NOT_RUNNING') && /it is failed/.test(err.message));
  await assert.rejects(setJobState(catalog, job.id, 'paused'), (err) => isVmbakError(err, 'JOB_NOT_RUNNING'));
  assert.equal((await getJob(catalog, job.id))!.error, 'target unreachable');
  await assert.rejects(setJobState(catalog, 'nope', 'running'), (err) => isVmbakError(err, 'CATALOG_NOT_FOUND'));
  await assert.rejects(setJobState(catalog, (await createJob(catalog, { kind: 'gc', trigger: 'manual' })).id, 'paused'), /cannot be made paused: it is queued/);
});

test('a starting controller marks its predecessor’s running and paused jobs interrupted', async (t) => {
  const catalog = await tempCatalog(t);
  const ids: string[] = [];
  for (const [host, state] of [['h1', 'running'], ['h1', 'paused'], ['h1', 'queued'], ['h2', 'running']] as const) {
    const job = await createJob(catalog, { kind: 'backup', trigger: 'schedule', host });
    if (state !== 'queued') await setJobState(catalog, job.id, 'running');
    if (state === 'paused') await setJobState(catalog, job.id, 'paused');
    ids.push(job.id);
  }
  assert.deepEqual(await markJobsInterrupted(catalog, 'h1', 'the controller stopped'), [ids[0], ids[1]].sort());
  assert.equal((await getJob(catalog, ids[2]!))!.state, 'queued');
  assert.equal((await getJob(catalog, ids[3]!))!.state, 'running', 'another host’s job is left alone');
  assert.equal((await getJob(catalog, ids[0]!))!.error, 'the controller stopped');
});

test('the job list pages newest first, filters, and counts', async (t) => {
  const clock = testClock();
  const catalog = await tempCatalog(t, clock);
  for (let i = 0; i < 25; i++) {
    clock.advance(i % 5 === 0 ? 0 : 1000); // some jobs share a creation time: the cursor must not skip them
    await createJob(catalog, { kind: i % 2 ? 'backup' : 'verify', policy: `p${i % 3}`, trigger: 'schedule' });
  }
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await listJobs(catalog, { limit: 7, cursor });
    assert.equal(page.total, 25);
    seen.push(...page.items.map((j) => j.id));
    cursor = page.next;
  } while (cursor);
  assert.equal(new Set(seen).size, 25);
  assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first (ids sort by creation)');
  const backups = await listJobs(catalog, { kind: 'backup', policy: 'p1' });
  assert.ok(backups.items.every((j) => j.kind === 'backup' && j.policy === 'p1'));
  assert.equal(backups.total, backups.items.length);
  await assert.rejects(listJobs(catalog, { cursor: 'garbage' }), /cursor garbage is not one this list handed out/);
});

test('per-VM results and log lines belong to their job', async (t) => {
  const catalog = await tempCatalog(t);
  const job = await createJob(catalog, { kind: 'backup', trigger: 'manual' });
  await recordJobVm(catalog, job.id, { vmKey: 'u1', vmName: 'web1', state: 'running', startedMs: 5 });
  await recordJobVm(catalog, job.id, { vmKey: 'u1', vmName: 'web1', state: 'succeeded', startedMs: 5, finishedMs: 9, repository: 'local', backupId: 'b1', bytesRead: 10 });
  await recordJobVm(catalog, job.id, { vmKey: 'u2', vmName: 'web2', state: 'failed', error: 'disk vdb cannot be backed up' });
  const vms = await listJobVms(catalog, job.id);
  assert.deepEqual(vms.map((v) => [v.vmName, v.state, v.backupId]), [['web1', 'succeeded', 'b1'], ['web2', 'failed', null]]);
  assert.deepEqual((await countJobVms(catalog, [job.id])).get(job.id), { succeeded: 1, failed: 1 });
  const first = await appendJobEvent(catalog, job.id, 'info', 'started');
  await appendJobEvent(catalog, job.id, 'error', 'web2 failed', 'u2');
  assert.deepEqual((await listJobEvents(catalog, job.id)).map((e) => e.message), ['started', 'web2 failed']);
  assert.deepEqual((await listJobEvents(catalog, job.id, first)).map((e) => [e.level, e.vmKey]), [['error', 'u2']]);
});

test('old finished jobs are deleted with their results and lines; unfinished ones stay', async (t) => {
  const clock = testClock(0);
  const catalog = await tempCatalog(t, clock);
  const old = await createJob(catalog, { kind: 'backup', trigger: 'schedule' });
  await setJobState(catalog, old.id, 'running');
  await setJobState(catalog, old.id, 'succeeded');
  await recordJobVm(catalog, old.id, { vmKey: 'u1', vmName: 'web1', state: 'succeeded' });
  await appendJobEvent(catalog, old.id, 'info', 'done');
  const stuck = await createJob(catalog, { kind: 'backup', trigger: 'schedule' });
  clock.advance(10_000);
  const recent = await createJob(catalog, { kind: 'gc', trigger: 'schedule' });
  assert.equal(await deleteJobsBefore(catalog, 5000), 1);
  assert.deepEqual((await listJobs(catalog)).items.map((j) => j.id), [recent.id, stuck.id]);
  assert.deepEqual([(await listJobVms(catalog, old.id)).length, (await listJobEvents(catalog, old.id)).length], [0, 0]);
});
