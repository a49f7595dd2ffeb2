// Where filesystems lie on the disks (from sysfs and device-mapper lines as the appliance
// prints them), and the digest that decides whether a filesystem is walked again: it follows
// the chunks under the filesystem and nothing else.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiskIndex } from '../repository/index.ts';
import { extentDigest, parseExtents } from './extents.ts';

const MiB = 1 << 20;
const lines = [
  'blk sda 8:0 0 106496', 'blk sda1 8:1 2048 32768', 'blk sda2 8:2 34816 65536',
  'blk sdb 8:16 0 81920', 'blk sdb1 8:17 2048 79872', 'blk dm-0 254:0 0 49152', 'blk dm-1 254:1 0 8192',
  'dm vg--data-root: 0 32768 linear 8:17 2048', 'dm vg--data-root: 32768 16384 linear 8:2 10240',
  'dm vg--data-fast: 0 8192 striped 2 128 8:17 40960 8:2 40960',
];
const diskOf = new Map([['/dev/sda', 'vda'], ['/dev/sdb', 'vdb']]);

test('partitions, whole disks and linear logical volumes map to disk extents; striped ones to none', () => {
  const found = parseExtents(lines, ['/dev/sda1', '/dev/sdb', '/dev/vg-data/root', '/dev/vg-data/fast', '/dev/sdc1'], diskOf);
  assert.deepEqual(found.get('/dev/sda1'), [{ disk: 'vda', startByte: MiB, lengthBytes: 16 * MiB }]);
  assert.deepEqual(found.get('/dev/sdb'), [{ disk: 'vdb', startByte: 0, lengthBytes: 40 * MiB }]);
  assert.deepEqual(found.get('/dev/vg-data/root'), [
    { disk: 'vdb', startByte: MiB + MiB, lengthBytes: 16 * MiB },
    { disk: 'vda', startByte: 17 * MiB + 5 * MiB, lengthBytes: 8 * MiB },
  ]);
  assert.equal(found.get('/dev/vg-data/fast'), null);
  assert.equal(found.get('/dev/sdc1'), null);
});

test('libguestfs names are translated to the kernel\'s when the appliance\'s own disk was probed first', () => {
  // As a real appliance printed them: the guest's disk is the kernel's sdb, libguestfs's /dev/sda.
  const probed = [
    'blk sda 8:0 0 8388608', 'blk sdb 8:16 0 69632', 'blk sdb1 8:17 2048 32768', 'blk sdb2 8:18 34816 32768', 'dm No devices found',
    'path /dev/sdb', 'path /dev/sda', 'root 8:0',
  ];
  const found = parseExtents(probed, ['/dev/sda1', '/dev/sda2', '/dev/sda'], new Map([['/dev/sda', 'alpha']]));
  assert.deepEqual(found.get('/dev/sda1'), [{ disk: 'alpha', startByte: MiB, lengthBytes: 16 * MiB }]);
  assert.deepEqual(found.get('/dev/sda2'), [{ disk: 'alpha', startByte: 17 * MiB, lengthBytes: 16 * MiB }]);
  assert.deepEqual(found.get('/dev/sda'), [{ disk: 'alpha', startByte: 0, lengthBytes: 34 * MiB }]);
  // The same disks in the usual order give the same extents.
  const usual = ['blk sda 8:0 0 69632', 'blk sda1 8:1 2048 32768', 'blk sda2 8:2 34816 32768', 'blk sdb 8:16 0 8388608', 'path /dev/sda', 'path /dev/sdb', 'root 8:16'];
  assert.deepEqual(parseExtents(usual, ['/dev/sda2'], new Map([['/dev/sda', 'alpha']])).get('/dev/sda2'), found.get('/dev/sda2'));
});

test('the digest changes with a chunk under the extent, not with one beside it', () => {
  const index = new DiskIndex(64 * MiB, MiB);
  for (let i = 0; i < index.count; i++) index.setId(i, Buffer.alloc(32, i + 1));
  const extents = [{ disk: 'vda', startByte: 4 * MiB, lengthBytes: 8 * MiB }];
  const before = extentDigest(extents, new Map([['vda', index]]));
  index.setId(20, Buffer.alloc(32, 0xee));
  assert.equal(extentDigest(extents, new Map([['vda', index]])), before);
  index.setId(11, Buffer.alloc(32, 0xee));
  assert.notEqual(extentDigest(extents, new Map([['vda', index]])), before);
  assert.equal(extentDigest([{ disk: 'vdz', startByte: 0, lengthBytes: 1 }], new Map([['vda', index]])), null);
});
