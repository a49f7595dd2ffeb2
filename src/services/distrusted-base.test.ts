// A backup whose verify failed is never built on: the next backup of its VM reads every disk
// whole (the unchanged-image skip and the incremental both need a base) and says why in the
// disk's read reason (with changed-block tracking: its fallback reason); a trusted previous backup is still the base.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Repository } from '../repository/index.ts';
import { openTarget } from '../targets/index.ts';
import { newProgress } from '../engine/index.ts';
import { backupVms, lazyRepoHandle } from './index.ts';

test('a distrusted previous backup is not a base: the disk is read whole, with the reason', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmbak-distrust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const image = join(dir, 'app.raw');
  writeFileSync(image, randomBytes(4 << 20));
  await Repository.init(await openTarget(join(dir, 'repo')), { passphrase: null, chunkSizeBytes: 64 << 10, packSizeBytes: 1 << 20, compressionLevel: 1 });

  const backup = async (distrustedBases?: ReadonlySet<string>) => {
    const handle = lazyRepoHandle(join(dir, 'repo'), async () => Repository.open(await openTarget(join(dir, 'repo')), async () => ({ passphrase: '' })));
    const result = await backupVms(
      { selection: { kind: 'images', images: [image] }, targets: [handle], parallelStreams: 1, distrustedBases },
      { signal: new AbortController().signal, progress: newProgress(Date.now()) },
    );
    const manifest = result.outcomes[0]?.manifest;
    assert.ok(manifest, `backup made: ${result.verdict.error?.message}`);
    return manifest;
  };
  await sleep(1100); // facts taken within a second of a write are not trusted (racy clean)
  const first = await backup();
  const trusted = await backup();
  assert.equal(trusted.disks[0]!.read, 'skipped', `an unchanged image with a trusted base is not read: ${trusted.disks[0]!.readReason}`);

  const distrusted = await backup(new Set([trusted.backupId]));
  const disk = distrusted.disks[0]!;
  assert.equal(disk.read, 'read', 'the disk is read whole');
  assert.equal(disk.bytesRead, 4 << 20);
  assert.equal(disk.incremental, false);
  // An image has no changed-block tracking (its fallback reason says so); why it was read is the read reason.
  assert.equal(disk.readReason, `image unchanged, but previous backup ${trusted.backupId} failed verification`);
  assert.notEqual(first.backupId, trusted.backupId);
});
