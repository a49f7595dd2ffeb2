// Pure parts of the libvirt adapter: domain XML disks (skipped, refused), tags by namespace,
// and the chain-safety rules for incrementals. (--vm patterns: services/vm-selection.test.ts.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDomainXml } from './domain-xml.ts';
import { incrementalRefusal, parseCheckpointXml, checkpointXml } from './checkpoints.ts';

const XML = `<domain type='qemu'><name>web1</name><uuid>AAAA-1</uuid>
<metadata><other:vm xmlns:other="https://example.com/x"><other:tag>nope</other:tag></other:vm>
<v:vm xmlns:v="https://vmbak.dev/xmlns/1"><v:tag>prod</v:tag><v:tag>web</v:tag></v:vm></metadata>
<os><type>hvm</type><nvram>/var/lib/libvirt/qemu/nvram/web1_VARS.fd</nvram></os>
<devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/img/a.qcow2'/><target dev='vda'/></disk>
<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vg/b'/><target dev='vdb'/></disk>
<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='rbd' name='pool/img'/><target dev='vdc'/></disk>
<disk type='file' device='cdrom'><target dev='sda'/></disk>
<disk type='file' device='disk'><source file='/img/s.raw'/><target dev='vdd'/><shareable/></disk>
</devices></domain>`;

test('parseDomainXml: identity, tags by namespace, nvram, disk kinds', () => {
  const d = parseDomainXml(XML);
  assert.equal(d.name, 'web1');
  assert.equal(d.uuid, 'aaaa-1');
  assert.deepEqual(d.tags, ['prod', 'web']);
  assert.equal(d.nvramPath, '/var/lib/libvirt/qemu/nvram/web1_VARS.fd');
  const by = new Map(d.disks.map((x) => [x.target, x]));
  assert.equal(by.get('vda')!.path, '/img/a.qcow2');
  assert.equal(by.get('vdb')!.path, '/dev/vg/b');
  assert.equal(by.get('vdb')!.unsupportedReason, null);
  assert.match(by.get('vdc')!.unsupportedReason!, /network \(rbd\) disks are not supported/);
  assert.match(by.get('sda')!.skipReason!, /^cdrom/);
  assert.match(by.get('vdd')!.skipReason!, /^shareable/);
});

test('incrementalRefusal: missing, foreign, resized, replaced, added disks', () => {
  const own = parseCheckpointXml(checkpointXml('vmbak-1', ['vda'], ['vdb'], { vda: { path: '/a', sizeBytes: 100 }, vdb: { path: '/b', sizeBytes: 50 } })
    .replace('<domaincheckpoint>', '<domaincheckpoint><creationTime>5</creationTime>'));
  assert.equal(own.createdByVmbak, true);
  assert.deepEqual(own.bitmapDisks, ['vda']);
  assert.equal(incrementalRefusal(own, 'vmbak-1', 'vda', { path: '/a', sizeBytes: 100 }), null);
  assert.match(incrementalRefusal(null, 'vmbak-1', 'vda', { path: '/a', sizeBytes: 100 })!, /no longer exists/);
  assert.match(incrementalRefusal(own, 'vmbak-1', 'vda', { path: '/a', sizeBytes: 200 })!, /resized/);
  assert.match(incrementalRefusal(own, 'vmbak-1', 'vda', { path: '/c', sizeBytes: 100 })!, /replaced/);
  assert.match(incrementalRefusal(own, 'vmbak-1', 'vdb', { path: '/b', sizeBytes: 50 })!, /no dirty bitmap/);
  const foreign = parseCheckpointXml("<domaincheckpoint><name>cp1</name><disks><disk name='vda' checkpoint='bitmap'/></disks></domaincheckpoint>");
  assert.match(incrementalRefusal(foreign, 'cp1', 'vda', { path: '/a', sizeBytes: 100 })!, /not created by vmbak/);
});
