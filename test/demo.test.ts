// The README's first command with libvirt at hand: `vmbak demo` boots a tiny real guest, backs
// it up hot, writes a file inside it, backs up again (changed blocks only), restores it as a
// new VM that boots and holds the file — and leaves no VM behind.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ensureLibvirt, virshTest } from './support/libvirt.ts';
import { vmbak } from './support/vmbak-cli.ts';

test('vmbak demo: a real guest backed up hot, changed, backed up again, restored as a VM that boots', { timeout: 300_000 }, async (t) => {
  const unavailable = await ensureLibvirt();
  if (unavailable) return t.skip(unavailable);
  const before = (await virshTest('list', '--all', '--name')).split('\n').filter((n) => n.startsWith('vmbak-demo-'));
  const r = await vmbak(['demo']);
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
  assert.match(r.stdout, /== vmbak backup --vm vmbak-demo-\w+ --json/);
  assert.match(r.stdout, /second backup after the write: .*\(incremental: changed blocks only\)/);
  assert.match(r.stdout, /vmbak-demo-\w+-restored booted from the restore and holds the file written in the guest/);
  const after = (await virshTest('list', '--all', '--name')).split('\n').filter((n) => n.startsWith('vmbak-demo-'));
  assert.deepEqual(after, before, 'the demo leaves no VM behind');
});
