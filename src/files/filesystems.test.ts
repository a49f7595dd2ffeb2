import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isVmbakError } from '../core/index.ts';
import { GUEST_ROOT, filesystemId, parseFilePath } from './filesystems.ts';
import { quote } from './guestfish.ts';
import { guestPath } from './browser.ts';

const diskOf = new Map([['/dev/sda', 'vda'], ['/dev/sdb', 'data']]);

test('filesystem ids name the disk, then the partition or the logical volume, and never hold a colon', () => {
  assert.equal(filesystemId('/dev/sda1', diskOf, new Map()), 'vda/p1');
  assert.equal(filesystemId('/dev/sdb12', diskOf, new Map()), 'data/p12');
  assert.equal(filesystemId('/dev/sdb', diskOf, new Map()), 'data');
  assert.equal(filesystemId('/dev/vg0/root', diskOf, new Map([['vg0', 'vda']])), 'vda/lvm/vg0/root');
  assert.equal(filesystemId('/dev/vg1/home', diskOf, new Map()), 'lvm/vg1/home');
  assert.ok(!filesystemId('/dev/md:0', diskOf, new Map()).includes(':'));
});

test('FS:/path splits at the first colon; a bare /path is in the guest OS; a missing id or a relative path is a usage error', () => {
  assert.deepEqual(parseFilePath('vda/p1:/etc/host:name'), { fs: 'vda/p1', path: '/etc/host:name' });
  assert.deepEqual(parseFilePath('/etc/host:name'), { fs: GUEST_ROOT, path: '/etc/host:name' });
  for (const bad of ['etc/hostname', 'vda/p1:etc', ':/etc', 'vda/p1']) {
    assert.throws(() => parseFilePath(bad), (err) => isVmbakError(err, 'USAGE'));
  }
});

test('guest paths are made canonical and cannot climb above the root', () => {
  assert.equal(guestPath('/etc/../../etc//passwd'), '/etc/passwd');
  assert.equal(guestPath('/'), '/');
  assert.equal(guestPath('/srv/www/'), '/srv/www');
});

test('guestfish arguments are quoted with every special or non-ASCII byte escaped', () => {
  assert.equal(quote('/a b/c"d\\e'), '"/a b/c\\x22d\\x5ce"');
  assert.equal(quote('/é\n'), '"/\\xc3\\xa9\\x0a"');
});
