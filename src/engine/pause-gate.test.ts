// The pause gate: waiters hold while paused and go on resume, an abort rejects them, and a
// pause longer than the maximum fires onExpire once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { PauseGate } from './pause-gate.ts';

test('waiters hold while paused and continue on resume', async () => {
  const changes: boolean[] = [];
  const gate = new PauseGate({ maxPauseMs: 10_000, onExpire: () => assert.fail('no expiry'), onChange: (p) => changes.push(p) });
  const signal = new AbortController().signal;
  await gate.wait(signal);
  assert.equal(gate.pause(), true);
  assert.equal(gate.pause(), false);
  let passed = false;
  const waiting = gate.wait(signal).then(() => { passed = true; });
  await sleep(30);
  assert.equal(passed, false);
  assert.equal(gate.resume(), true);
  await waiting;
  assert.equal(passed, true);
  assert.deepEqual(changes, [true, false]);
  gate.close();
});

test('an abort rejects paused waiters with its reason', async () => {
  const gate = new PauseGate({ maxPauseMs: 10_000, onExpire: () => undefined });
  const controller = new AbortController();
  gate.pause();
  const waiting = gate.wait(controller.signal);
  controller.abort(new Error('stop'));
  await assert.rejects(waiting, /stop/);
  gate.close();
});

test('a pause longer than the maximum fires onExpire', async () => {
  let expired = 0;
  const gate = new PauseGate({ maxPauseMs: 20, onExpire: () => { expired++; } });
  gate.pause();
  await sleep(80);
  assert.equal(expired, 1);
  gate.resume();
  gate.pause();
  gate.resume();
  await sleep(40);
  assert.equal(expired, 1, 'a resumed pause does not expire');
});
