// decideImageRead: which file facts force a read; a manifest written before the facts
// existed means a read (that it still parses: repository/manifest.test.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SourceFileFacts } from '../core/index.ts';
import type { Manifest } from '../repository/index.ts';
import { decideImageRead } from './unchanged-image.ts';

const facts: SourceFileFacts = { path: '/img/a.raw', sizeBytes: 1 << 20, mtimeNs: '1700000000123456789', ctimeNs: '1700000000223456789', inode: '42', device: '2049' };
// A manifest as written before sourceFile/read/readReason existed.
const oldManifest: Manifest = {
  version: 1, backupId: 'b1', vm: { key: 'a', name: 'a', uuid: null }, time: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z',
  host: 'h', source: 'image', consistency: 'crash', incremental: false, fallbackReason: null, parentBackupId: null, checkpointId: null,
  domainXml: null, stateFiles: [], skippedDisks: [], warnings: [], stats: { bytesRead: 1, bytesNew: 1, bytesStored: 1, durationMs: 1 },
  disks: [{ name: 'a', sizeBytes: 1 << 20, chunkSizeBytes: 65536, digest: '0'.repeat(64), format: 'raw', sourcePath: null, bytesRead: 1, bytesNew: 1, bytesChanged: null, incremental: false, fallbackReason: 'x' }],
};
const withFacts: Manifest = { ...oldManifest, disks: [{ ...oldManifest.disks[0]!, sourceFile: facts, read: 'read', readReason: 'first backup' }] };
const decide = (now: SourceFileFacts | null | undefined, previous: Manifest | null = withFacts, forceRead = false, copies = 0) =>
  decideImageRead({ facts: now, previous, prevDisk: previous?.disks[0] ?? null, forceRead, copies });

test('the same facts skip; each changed fact, --force-read, --copy-to and missing facts read', () => {
  assert.deepEqual(decide(facts), { skip: true, reason: 'image unchanged since backup b1 (size, mtime, ctime, inode)' });
  assert.equal(decide({ ...facts, ctimeNs: '1700000009000000000' }).reason, 'image changed: ctime');
  assert.equal(decide({ ...facts, mtimeNs: '1', ctimeNs: '2' }).reason, 'image changed: mtime, ctime');
  assert.equal(decide({ ...facts, inode: '43', device: '7' }).reason, 'image changed: inode, device');
  assert.equal(decide({ ...facts, sizeBytes: 2 << 20 }).reason, 'image changed: size');
  assert.equal(decide({ ...facts, backing: [{ ...facts, path: '/img/base.qcow2' }] }).reason, 'image changed: backing chain');
  assert.equal(decide(facts, withFacts, true).reason, '--force-read');
  assert.equal(decide(facts, withFacts, false, 1).skip, false);
  assert.equal(decide(facts, null).reason, 'first backup');
  assert.equal(decide(null).skip, false);
  assert.deepEqual(decide(undefined), { skip: false, reason: null });
  assert.equal(decide(facts, oldManifest).reason, 'backup b1 recorded no facts of this image file');
  const backed = { ...facts, backing: [{ ...facts, path: '/img/base.qcow2' }] };
  const prev: Manifest = { ...withFacts, disks: [{ ...withFacts.disks[0]!, sourceFile: backed }] };
  assert.equal(decide(backed, prev).skip, true);
  assert.equal(decide({ ...backed, backing: [{ ...backed.backing[0]!, ctimeNs: '1' }] }, prev).reason, 'image changed: backing file /img/base.qcow2: ctime');
});
