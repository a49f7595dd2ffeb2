// runLimited with items produced as they are taken (the restore's read plan is a generator):
// a failing producer rejects, but only after the calls already started have finished.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { runLimited } from './backup-disk.ts';

test('a generator that throws: runLimited rejects with its error once the calls in flight are done', async () => {
  const finished: number[] = [];
  let inFlight = 0;
  let most = 0;
  function* items() {
    for (let i = 0; i < 5; i++) yield i;
    throw new Error('plan failed');
  }
  await assert.rejects(runLimited(items(), 3, new AbortController().signal, async (i) => {
    inFlight++;
    most = Math.max(most, inFlight);
    await sleep(20);
    inFlight--;
    finished.push(i);
  }), /plan failed/);
  assert.equal(inFlight, 0, 'no call is still running when runLimited settles');
  assert.deepEqual(finished.sort(), [0, 1, 2, 3, 4]);
  assert.equal(most, 3);
});

test('a call that fails stops taking items from the generator', async () => {
  let taken = 0;
  function* items() {
    for (let i = 0; i < 100; i++) { taken++; yield i; }
  }
  await assert.rejects(runLimited(items(), 2, new AbortController().signal, async (i) => {
    await sleep(5);
    if (i === 3) throw new Error('read failed');
  }), /read failed/);
  assert.ok(taken < 10, `took ${taken} items`);
});
