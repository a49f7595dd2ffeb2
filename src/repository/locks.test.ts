// Locks as leases, in one process against a local directory: "another host" is this process
// under another VMBAK_HOSTNAME, and a lock goes stale by moving its object's timestamp back
// (the server's clock is what staleness is judged by).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVmbakError, type Target } from '../core/index.ts';
import { LocalTarget } from '../targets/local-target.ts';
import { acquireLock, listLocks, operationLockName, removeDeadLock } from './locks.ts';

function withRepoDir(fn: (target: Target, dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmbak-locks-'));
    try {
      await fn(new LocalTarget(dir), dir);
    } finally {
      delete process.env.VMBAK_HOSTNAME;
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

async function asHost<T>(host: string, fn: () => Promise<T>): Promise<T> {
  process.env.VMBAK_HOSTNAME = host;
  try {
    return await fn();
  } finally {
    delete process.env.VMBAK_HOSTNAME;
  }
}

/** Ages every object of a lock name by `ageMs` on the server (the directory's file times). */
function ageLock(dir: string, name: string, ageMs: number): void {
  const folder = join(dir, 'locks', name);
  const t = (Date.now() - ageMs) / 1000;
  for (const f of readdirSync(folder)) utimesSync(join(folder, f), t, t);
}

test('an exclusive lock excludes, and a released one is free again', withRepoDir(async (target) => {
  const a = await acquireLock(target, 'vm-x', 'backup of x', 'VM x');
  await assert.rejects(acquireLock(target, 'vm-x', 'backup of x', 'VM x'), (e) => isVmbakError(e, 'REPO_LOCKED'));
  await a.assertHeld();
  await a.release();
  const states = await listLocks(target);
  assert.deepEqual(states.map((s) => [s.name, s.status]), [['vm-x', 'free']], 'a released generation stays on top');
  const b = await acquireLock(target, 'vm-x', 'backup of x', 'VM x');
  assert.equal((await listLocks(target))[0]!.top.generation, 3, 'numbering goes on past the released generation');
  await b.release();
}));

test('a stale lock of another host is taken over; its owner finds out before writing and on refresh', withRepoDir(async (target, dir) => {
  const a = await asHost('hosta', () => acquireLock(target, 'vm-x', 'backup of x', 'VM x'));
  ageLock(dir, 'vm-x', 20 * 60_000);
  const b = await asHost('hostb', () => acquireLock(target, 'vm-x', 'backup of x', 'VM x'));
  await assert.rejects(a.assertHeld(), (e) => isVmbakError(e, 'LEASE_LOST') && /taken over|removed/.test(e.message));
  assert.ok(a.signal.aborted, 'the signal fired');
  assert.ok(isVmbakError(a.signal.reason, 'LEASE_LOST'));
  await a.release(); // must not touch b's generation
  await b.assertHeld();
  await b.release();
}));

test('a live lock of another host is not taken over however skewed the taker\'s clock', withRepoDir(async (target) => {
  const a = await asHost('hosta', () => acquireLock(target, 'vm-x', 'backup of x', 'VM x'));
  const aheadBy20Min = { nowMs: () => Date.now() + 20 * 60_000 };
  await assert.rejects(asHost('hostb', () => acquireLock(target, 'vm-x', 'backup of x', 'VM x', aheadBy20Min)), (e) => isVmbakError(e, 'REPO_LOCKED'));
  await a.assertHeld();
  await a.release();
}));

test('a lock removed as dead (gc) makes its owner\'s next refresh and check fail', withRepoDir(async (target, dir) => {
  const op = await asHost('hosta', () => acquireLock(target, operationLockName(), 'verify', 'verify'));
  ageLock(dir, op.name, 20 * 60_000);
  const [state] = await asHost('hostb', () => listLocks(target));
  assert.equal(state!.status, 'dead');
  assert.ok(await removeDeadLock(target, state!));
  await assert.rejects(op.note({ gcPlanSeen: '' }), (e) => isVmbakError(e, 'LEASE_LOST'));
  assert.ok(op.signal.aborted);
}));

test('a refresh writes a new generation and keeps the lease; a removed one is not resurrected by it', withRepoDir(async (target) => {
  const a = await asHost('hosta', () => acquireLock(target, 'vm-x', 'backup of x', 'VM x'));
  await a.note({ gcPlanSeen: 'plan-1' });
  const [s] = await listLocks(target);
  assert.equal(s!.top.generation, 2);
  assert.equal(s!.below.length, 0, 'the previous generation is removed by its owner');
  assert.equal(s!.owner.gcPlanSeen, 'plan-1');
  // Everything removed behind the owner's back (an operator, or a gc and a release after a takeover).
  await target.delete(s!.top.object);
  await assert.rejects(a.note({ gcPlanSeen: 'plan-2' }), (e) => isVmbakError(e, 'LEASE_LOST'));
  assert.deepEqual(await listLocks(target), [], 'the failed refresh took back the generation it wrote');
}));

test('a lock object that cannot be read is an error naming it, unless older than the stale window', withRepoDir(async (target, dir) => {
  mkdirSync(join(dir, 'locks', 'vm-x'), { recursive: true });
  writeFileSync(join(dir, 'locks', 'vm-x', '000000000001.lock'), '{"host": 1');
  await assert.rejects(listLocks(target), (e) => isVmbakError(e, 'LOCK_CORRUPT') && e.message.includes('locks/vm-x/000000000001.lock'));
  await assert.rejects(acquireLock(target, 'vm-x', 'backup of x', 'VM x'), (e) => isVmbakError(e, 'LOCK_CORRUPT'));
  ageLock(dir, 'vm-x', 20 * 60_000);
  const [s] = await listLocks(target);
  assert.equal(s!.status, 'dead');
  const a = await acquireLock(target, 'vm-x', 'backup of x', 'VM x');
  await a.release();
}));

test('a lock of the earlier single-object layout is generation 0 of its name', withRepoDir(async (target, dir) => {
  mkdirSync(join(dir, 'locks'), { recursive: true });
  const record = { host: 'elsewhere', pid: 1, pidStartTicks: null, startedMs: Date.now(), refreshedMs: Date.now(), purpose: 'backup of x' };
  writeFileSync(join(dir, 'locks', 'vm-x.lock'), JSON.stringify(record));
  await assert.rejects(acquireLock(target, 'vm-x', 'backup of x', 'VM x'), (e) => isVmbakError(e, 'REPO_LOCKED'));
  const t = (Date.now() - 20 * 60_000) / 1000;
  utimesSync(join(dir, 'locks', 'vm-x.lock'), t, t);
  const a = await acquireLock(target, 'vm-x', 'backup of x', 'VM x');
  assert.deepEqual(readdirSync(join(dir, 'locks')).sort(), ['vm-x'], 'the old object went with the takeover');
  await a.release();
}));

test('refreshes that keep failing past the usable window fire the signal, and each failure is reported', withRepoDir(async (target) => {
  process.env.VMBAK_LOCK_STALE_MS = '2000';
  try {
    let failing = false;
    const flaky: Target = Object.create(target, {
      create: { value: (name: string, data: Uint8Array) => (failing ? Promise.reject(new Error('injected outage')) : target.create(name, data)) },
    });
    const warnings: string[] = [];
    const originalWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => { warnings.push(String(chunk)); return true; }) as typeof process.stderr.write;
    try {
      const a = await acquireLock(flaky, 'vm-x', 'backup of x', 'VM x');
      failing = true;
      await new Promise((resolve) => a.signal.addEventListener('abort', resolve, { once: true }));
      assert.match(String(a.signal.reason), /not refreshed for \d+ s, last failure: injected outage/);
      assert.ok(warnings.filter((w) => /could not refresh lock vm-x: injected outage/.test(w)).length >= 3, warnings.join(''));
    } finally {
      process.stderr.write = originalWrite;
    }
  } finally {
    delete process.env.VMBAK_LOCK_STALE_MS;
  }
}));
