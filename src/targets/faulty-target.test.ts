// Each fault action of FaultyTarget against a real LocalTarget, the rule counting, the
// VMBAK_TEST_FAULTS switch in openTarget, and hold/release across two processes.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVmbakError, type Target } from '../core/index.ts';
import { FaultyTarget } from './faulty-target.ts';
import { FAULTS_ENV_VAR, FaultPlan, type FaultRule } from './fault-rules.ts';
import { LocalTarget } from './local-target.ts';
import { openTarget } from './open-target.ts';

const base = await mkdtemp(join(tmpdir(), 'vmbak-faulty-'));
after(() => rm(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(base, `t${n++}`);
const faulty = (rules: FaultRule[]): FaultyTarget => new FaultyTarget(new LocalTarget(freshDir()), rules);
const data = (text: string): Buffer => Buffer.from(text);

async function settledWithin<T>(work: Promise<T>, ms: number): Promise<boolean> {
  let settled = false;
  work.then(() => { settled = true; }, () => { settled = true; });
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

async function waitForFile(path: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('fail: only the nth matching call throws TARGET_IO naming target, op and object; nothing is written', async () => {
  const t = faulty([{ op: 'put', match: 'data/', nth: 2, action: 'fail' }]);
  await t.put('data/1', data('one'));
  await t.put('other/1', data('not counted'));
  await assert.rejects(t.put('data/2', data('two')), (err) =>
    isVmbakError(err, 'TARGET_IO') && err.retryable && err.message.includes(t.displayUrl) && /put data\/2/.test(err.message));
  assert.equal(await t.stat('data/2'), null);
  await t.put('data/3', data('three'));
  assert.equal(t.plan.matched(0), 3);
  await t.close();
});

test('fail with a code, from the nth call on, for every op', async () => {
  const t = faulty([{ op: '*', match: 'locks/', from: 2, action: 'fail', code: 'TARGET_DENIED' }]);
  await t.put('locks/a', data('a'));
  const denied = (err: unknown): boolean => isVmbakError(err, 'TARGET_DENIED') && err.message.includes('locks/a') && err.message.includes(t.displayUrl);
  await assert.rejects(t.stat('locks/a'), denied);
  await assert.rejects(t.get('locks/a'), denied);
  await assert.rejects(t.list('locks/'), (err) => isVmbakError(err, 'TARGET_DENIED') && err.message.includes('list locks/'));
  await assert.rejects(t.get('unmatched'), (err) => isVmbakError(err, 'OBJECT_MISSING'));
  await t.close();
});

test('full and drop throw what the real back-ends throw', async () => {
  const t = faulty([
    { op: 'put', action: 'full' },
    { op: 'delete', action: 'drop' },
  ]);
  await assert.rejects(t.put('x', data('x')), (err) => isVmbakError(err, 'TARGET_FULL') && err.retryable && err.message.includes(t.displayUrl));
  await assert.rejects(t.delete('x'), (err) =>
    isVmbakError(err, 'TARGET_UNREACHABLE') && err.retryable && err.message.includes('connection reset (injected)') && err.message.includes('delete x'));
  assert.equal(await t.create('x', data('created')), true);
  await t.close();
});

test('the first rule that fires decides; every matching rule counts the call', async () => {
  const t = faulty([
    { op: 'stat', nth: 1, action: 'drop' },
    { op: 'stat', nth: 2, action: 'full' },
    { op: '*', nth: 1, action: 'fail' },
  ]);
  await assert.rejects(t.stat('a'), (err) => isVmbakError(err, 'TARGET_UNREACHABLE'));
  await assert.rejects(t.stat('a'), (err) => isVmbakError(err, 'TARGET_FULL'));
  assert.equal(await t.stat('a'), null);
  assert.deepEqual([0, 1, 2].map((i) => t.plan.matched(i)), [3, 3, 3]);
  await t.close();
});

test('hang never settles; other calls go on; close lets the process go', async () => {
  const t = faulty([{ op: 'get', match: 'stuck', action: 'hang' }]);
  await t.put('stuck', data('s'));
  const stuck = t.get('stuck');
  assert.equal(await settledWithin(stuck, 200), false);
  await assert.rejects(t.get('free'), (err) => isVmbakError(err, 'OBJECT_MISSING'));
  await t.close();
  assert.equal(await settledWithin(stuck, 50), false);
});

test('delay waits, then makes the real call', async () => {
  const t = faulty([{ op: 'put', action: 'delay', ms: 300 }]);
  const startMs = Date.now();
  await t.put('slow', data('slow'));
  assert.ok(Date.now() - startMs >= 290, `put returned after ${Date.now() - startMs} ms`);
  assert.equal((await t.get('slow')).toString(), 'slow');
  await t.close();
});

test('hold: heldFile appears, the real call waits for releaseFile and happens after it', async () => {
  const heldFile = join(base, `held-${n}`);
  const releaseFile = join(base, `release-${n}`);
  const t = faulty([{ op: 'create', action: 'hold', heldFile, releaseFile }]);
  const created = t.create('locks/a', data('held'));
  await waitForFile(heldFile);
  assert.match(await readFile(heldFile, 'utf8'), new RegExp(`^${process.pid} create locks/a`));
  assert.equal(await settledWithin(created, 100), false);
  assert.equal(await t.stat('locks/a'), null, 'the held create wrote before its release');
  await writeFile(releaseFile, '');
  assert.equal(await created, true);
  assert.equal((await t.get('locks/a')).toString(), 'held');
  await t.close();
});

test('a plan shared by two targets counts their calls together', async () => {
  const plan = new FaultPlan([{ op: 'put', nth: 2, action: 'fail' }]);
  const a = new FaultyTarget(new LocalTarget(freshDir()), plan);
  const b = new FaultyTarget(new LocalTarget(freshDir()), plan);
  await a.put('x', data('x'));
  await assert.rejects(b.put('x', data('x')), (err) => isVmbakError(err, 'TARGET_IO'));
  await a.close();
  await b.close();
});

async function withFaultsEnv<T>(value: string | undefined, body: () => Promise<T>): Promise<T> {
  const saved = process.env[FAULTS_ENV_VAR];
  if (value === undefined) delete process.env[FAULTS_ENV_VAR];
  else process.env[FAULTS_ENV_VAR] = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env[FAULTS_ENV_VAR];
    else process.env[FAULTS_ENV_VAR] = saved;
  }
}

test('openTarget wraps the back-end only when VMBAK_TEST_FAULTS is set, and counts per process', async () => {
  const dir = freshDir();
  const plain = await withFaultsEnv(undefined, () => openTarget(dir));
  assert.ok(plain instanceof LocalTarget);
  const rules = JSON.stringify([{ op: 'put', nth: 2, action: 'full' }]);
  await withFaultsEnv(rules, async () => {
    const first: Target = await openTarget(dir);
    assert.ok(first instanceof FaultyTarget);
    await first.put('a', data('a'));
    const second = await openTarget(dir);
    await assert.rejects(second.put('b', data('b')), (err) => isVmbakError(err, 'TARGET_FULL'));
    await second.put('c', data('c'));
  });
});

test('a malformed VMBAK_TEST_FAULTS is CONFIG_INVALID naming the variable', async () => {
  const bad = [
    ['not json', /VMBAK_TEST_FAULTS is not JSON/],
    ['{"op":"put"}', /VMBAK_TEST_FAULTS: /],
    ['[{"op":"put","action":"explode"}]', /VMBAK_TEST_FAULTS\[0\]\.action/],
    ['[{"op":"put","action":"hold"}]', /VMBAK_TEST_FAULTS\[0\]: releaseFile is needed by hold/],
    ['[{"op":"put","action":"fail","nth":1,"from":2}]', /nth or from/],
    ['[{"op":"put","action":"fail","code":"NO_SUCH_CODE"}]', /\[0\]\.code/],
    ['[{"op":"put","action":"fail","mtch":"x"}]', /VMBAK_TEST_FAULTS\[0\]/],
  ] as const;
  for (const [value, expected] of bad) {
    await withFaultsEnv(value, async () => {
      await assert.rejects(openTarget(freshDir()), (err) => isVmbakError(err, 'CONFIG_INVALID') && expected.test(err.message) && !err.message.includes('\n'),
        `for ${value}`);
    });
  }
});

// The child opens the repository folder through openTarget, as any vmbak command does, and
// tries to create the object the parent slips in while the child is held.
const CHILD = `
const { openTarget } = await import(process.env.OPEN_TARGET_MODULE);
const target = await openTarget(process.env.TARGET_DIR);
const won = await target.create('locks/a', Buffer.from('child'));
await target.close();
process.stdout.write(JSON.stringify({ won }));
`;

test('hold and release across processes through VMBAK_TEST_FAULTS', { timeout: 30_000 }, async () => {
  const dir = freshDir();
  const heldFile = join(base, 'child-held');
  const releaseFile = join(base, 'child-release');
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
    env: {
      ...process.env,
      OPEN_TARGET_MODULE: new URL('./open-target.ts', import.meta.url).href,
      TARGET_DIR: dir,
      [FAULTS_ENV_VAR]: JSON.stringify([{ op: 'create', match: 'locks/', action: 'hold', heldFile, releaseFile }]),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  await waitForFile(heldFile);
  assert.match(await readFile(heldFile, 'utf8'), new RegExp(`^${child.pid} create locks/a`));
  const parent = new LocalTarget(dir);
  assert.equal(await parent.stat('locks/a'), null, 'the held child wrote before its release');
  assert.equal(await parent.create('locks/a', data('parent')), true);
  await writeFile(releaseFile, '');
  assert.equal(await exited, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), { won: false });
  assert.equal((await parent.get('locks/a')).toString(), 'parent');
});
