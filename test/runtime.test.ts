// The suite and the `vmbak` command run on Node.js 24, installed by `npm install`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vmbak } from './support/vmbak-cli.ts';

test('tests run on Node.js 24', () => {
  assert.match(process.version, /^v24\./);
});

test('vmbak runs on Node.js 24 and prints its version', async () => {
  const r = await vmbak(['--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+\.\d+\.\d+/);
});

test('the README\'s main job (vmbak demo) runs the whole cycle and ends byte-identical', async () => {
  const r = await vmbak(['demo', '--image', '--size', '64']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /restored image is byte-identical to the disk/);
  assert.match(r.stdout, /verified 2 backup\(s\).*no problems/);
});
