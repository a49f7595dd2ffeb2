// The manifest schema reads manifests written before a disk's sourceFile/read/readReason
// existed (a fixture of that format) and the ones with them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestSchema } from './manifest.ts';

const oldFormat = {
  version: 1, backupId: 'b1', vm: { key: 'a', name: 'a', uuid: null }, time: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z',
  host: 'h', source: 'image', consistency: 'crash', incremental: false, fallbackReason: null, parentBackupId: null, checkpointId: null,
  domainXml: null, stateFiles: [], skippedDisks: [], warnings: [], stats: { bytesRead: 1, bytesNew: 1, bytesStored: 1, durationMs: 1 },
  disks: [{ name: 'a', sizeBytes: 1048576, chunkSizeBytes: 65536, digest: '0'.repeat(64), format: 'raw', sourcePath: null, bytesRead: 1, bytesNew: 1, bytesChanged: null, incremental: false, fallbackReason: 'x' }],
};

test('manifests without file facts parse; facts with backing files parse; bad facts do not', () => {
  assert.equal(manifestSchema.parse(oldFormat).disks[0]!.sourceFile, undefined);
  const facts = { path: '/a.qcow2', sizeBytes: 1, mtimeNs: '1700000000123456789', ctimeNs: '1700000000123456789', inode: '1', device: '2' };
  const disk = { ...oldFormat.disks[0]!, sourceFile: { ...facts, backing: [{ ...facts, path: '/base.qcow2' }] }, read: 'skipped', readReason: 'image unchanged' };
  assert.deepEqual(manifestSchema.parse({ ...oldFormat, disks: [disk] }).disks[0], disk);
  assert.equal(manifestSchema.safeParse({ ...oldFormat, disks: [{ ...disk, sourceFile: { ...facts, mtimeNs: 1 } }] }).success, false);
});
