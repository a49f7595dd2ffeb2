// Names and XML edits for restoring a VM's boot state: a TPM state name from a backup cannot
// leave its directory, and the new VM's XML names the restored variable store whether the
// backed-up XML had an <nvram> element, only <os firmware='efi'>, or no UEFI at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeRelativePath, sortStateFiles } from './state-files.ts';
import { rewriteDomainXml } from './restore-define.ts';

const xml = (os: string) => `<domain type='qemu'>
  <name>old</name>
  <uuid>1b1a109e-a9f7-48bb-afda-a6a0482e37aa</uuid>
  <os${os}
  </os>
  <devices></devices>
</domain>`;
const rewrite = (os: string) => rewriteDomainXml(xml(os), { newName: 'new', diskPaths: new Map(), nvramPath: '/pool/new_VARS.fd' });

test('TPM state names stay inside the state directory', () => {
  for (const ok of ['tpm2/tpm2-00.permall', 'tpm2/.lock', 'a/../b']) assert.equal(isSafeRelativePath(ok), true, ok);
  for (const bad of ['', '.', '..', '../x', 'tpm2/../../x', '/etc/passwd']) assert.equal(isSafeRelativePath(bad), false, bad);
});

test('state files sort into NVRAM and TPM files named relative to the state directory', () => {
  const s = sortStateFiles([{ name: 'nvram/x_VARS.fd', data: Buffer.from('n') }, { name: 'tpm/tpm2/tpm2-00.permall', data: Buffer.from('t') }]);
  assert.equal(s.nvram?.toString(), 'n');
  assert.deepEqual(s.tpm.map((f) => f.name), ['tpm2/tpm2-00.permall']);
});

test('the new XML names the restored NVRAM: replaced, added under firmware=efi, left out without UEFI', () => {
  assert.match(rewrite(`><loader readonly='yes' type='pflash'>/c.fd</loader><nvram template='/t.fd'>/var/lib/libvirt/qemu/nvram/old_VARS.fd</nvram>`),
    /<nvram template='\/t.fd'>\/pool\/new_VARS.fd<\/nvram>/);
  const efi = rewrite(` firmware='efi'><type arch='x86_64' machine='q35'>hvm</type>`);
  assert.match(efi, /<os firmware='efi'>[\s\S]*<nvram>\/pool\/new_VARS.fd<\/nvram>\s*<\/os>/);
  assert.doesNotMatch(efi, /<uuid>/);
  assert.doesNotMatch(rewrite(`><type arch='x86_64' machine='pc'>hvm</type>`), /<nvram/);
});
