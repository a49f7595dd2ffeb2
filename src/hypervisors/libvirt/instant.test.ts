// The XML and qcow2 header pieces instant recovery relies on: restored disks that pause the VM
// on I/O errors (existing error policies replaced, not doubled), and the NBD backing string.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nbdBackingSpec } from './instant.ts';
import { rewriteDomainXml } from './restore-define.ts';

const domain = `<domain type='qemu'>
  <name>old</name>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' error_policy='report'/>
      <source file='/old/vda.raw'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
  </devices>
</domain>`;

test('pauseOnIoError sets error_policy and rerror_policy to stop on restored disks only', () => {
  const out = rewriteDomainXml(domain, { newName: 'new', diskPaths: new Map([['vda', '/pool/vda.qcow2']]), pauseOnIoError: true });
  assert.match(out, /<driver name='qemu' type='qcow2' error_policy='stop' rerror_policy='stop'\/>/);
  assert.equal(out.match(/error_policy=/g)!.length, 2, 'one error_policy and one rerror_policy, the old one gone');
  assert.match(out, /<driver name='qemu' type='raw'\/>\s*<target dev='sda'/, 'the CD-ROM is left alone');
  const plain = rewriteDomainXml(domain, { newName: 'new', diskPaths: new Map([['vda', '/pool/vda.qcow2']]) });
  assert.doesNotMatch(plain, /'stop'/);
});

test('the backing spec is JSON QEMU and libvirt parse as an NBD export on a unix socket', () => {
  const spec = nbdBackingSpec('/run/vmbak/instant/web01/nbd.sock', 'vda');
  assert.ok(spec.startsWith('json:'));
  assert.deepEqual(JSON.parse(spec.slice(5)), { file: { driver: 'nbd', server: { type: 'unix', path: '/run/vmbak/instant/web01/nbd.sock' }, export: 'vda' } });
});
