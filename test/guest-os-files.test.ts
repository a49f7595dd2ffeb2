// `vmbak files ls|get` with a bare /path: the guest OS's root with the filesystems its
// /etc/fstab mounts (found by libguestfs inspection), and a LUKS partition listed and refused
// with one line. The disk is built here: GPT with a Linux root (ext4; /etc/os-release, /etc/fstab
// naming / by LABEL= and /srv by UUID=, /bin a symlink to usr/bin — what inspection needs to
// call it a Linux root), a LUKS1 partition, and the ext4 for /srv. A second backup holds
// only a data filesystem, so a bare path there has no OS to mean. Then the same bare paths
// through the REST API's path= parameter. Six appliance starts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { vmbak, spawnVmbak, tempDir, jsonLine, isCleanError } from './support/vmbak-cli.ts';
import { findFreePort } from './support/free-port.ts';

const tmp = tempDir('guest-os');
const env = { VMBAK_PASSPHRASE: 'correct horse', VMBAK_REPO: join(tmp.dir, 'repo') };
const SRV_UUID = '3a9c2f0e-1b7d-4c8e-9f00-aabbccddeeff';
const payload = randomBytes(2 * 1024 * 1024 + 7);

function sh(cmd: string, args: string[], input?: string): void {
  execFileSync(cmd, args, { input, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
}

before(async () => {
  const root = join(tmp.dir, 'root');
  for (const d of ['etc', 'usr/bin', 'srv', 'var']) mkdirSync(join(root, d), { recursive: true });
  symlinkSync('usr/bin', join(root, 'bin'));
  writeFileSync(join(root, 'etc/os-release'), 'PRETTY_NAME="vmbak test Linux"\nID=debian\nVERSION_ID=12\n');
  writeFileSync(join(root, 'etc/hostname'), 'guest-os-01\n');
  writeFileSync(join(root, 'etc/fstab'), `LABEL=vmroot / ext4 defaults 0 1\nUUID=${SRV_UUID} /srv ext4 defaults 0 2\n`);
  writeFileSync(join(root, 'srv/hidden-by-mount'), 'the root fs own /srv, under the mount\n');
  const srv = join(tmp.dir, 'srv');
  mkdirSync(join(srv, 'www'), { recursive: true });
  writeFileSync(join(srv, 'www/index.html'), '<p>on /srv</p>\n');
  writeFileSync(join(srv, 'www/payload.bin'), payload);
  chmodSync(join(srv, 'www/payload.bin'), 0o600);
  sh('mkfs.ext4', ['-q', '-F', '-L', 'vmroot', '-d', root, join(tmp.dir, 'root.part'), '24M']);
  sh('mkfs.ext4', ['-q', '-F', '-U', SRV_UUID, '-d', srv, join(tmp.dir, 'srv.part'), '16M']);
  const luks = join(tmp.dir, 'luks.part');
  sh('truncate', ['-s', '8M', luks]);
  sh('cryptsetup', ['luksFormat', '--batch-mode', '--type', 'luks1', '--pbkdf-force-iterations', '1000', luks, '-'], 'secret');
  const disk = join(tmp.dir, 'os.img');
  sh('truncate', ['-s', '50M', disk]);
  sh('sfdisk', ['-q', disk], 'label: gpt\nstart=2048, size=49152\nstart=51200, size=16384\nstart=67584, size=32768\n');
  for (const [file, seekMiB] of [['root.part', 1], ['luks.part', 25], ['srv.part', 33]] as const) {
    sh('dd', [`if=${join(tmp.dir, file)}`, `of=${disk}`, 'bs=1M', `seek=${seekMiB}`, 'conv=notrunc', 'status=none']);
  }
  // A disk with no OS: the /srv filesystem alone, whole-disk.
  sh('cp', [join(tmp.dir, 'srv.part'), join(tmp.dir, 'data.img')]);
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  for (const [img, vm] of [['os.img', 'os01'], ['data.img', 'data01']]) {
    const b = await vmbak(['backup', '--image', join(tmp.dir, img), '--vm', vm, '--no-progress'], env);
    assert.equal(b.code, 0, b.stderr);
  }
});
after(() => tmp.remove());

test('files ls lists the LUKS partition as crypto_LUKS and refuses to browse it with one line', async () => {
  const fss = await vmbak(['files', 'ls', 'os01@latest'], env);
  assert.equal(fss.code, 0, fss.stderr);
  assert.deepEqual(fss.stdout.trim().split('\n'), ['os/p1 ext4', 'os/p2 crypto_LUKS', 'os/p3 ext4']);
  const luks = await vmbak(['files', 'ls', 'os01@latest', 'os/p2:/'], env);
  assert.ok(isCleanError(luks), luks.stderr);
  assert.match(luks.stderr, /^vmbak: filesystem os\/p2 of backup \S+ cannot be browsed: crypto_LUKS: it is LUKS-encrypted\n$/);
});

test('a bare /path is the guest OS root with its fstab mounts: ls /etc and /srv/www, get across both filesystems', async () => {
  const etc = await vmbak(['files', 'ls', 'os01@latest', '/etc', '--json'], env);
  assert.equal(etc.code, 0, etc.stderr);
  const listing = jsonLine<{ fs: string; path: string; entries: { name: string }[] }>(etc);
  assert.deepEqual([listing.fs, listing.path], ['/', '/etc']);
  assert.deepEqual(listing.entries.map((e) => e.name), ['fstab', 'hostname', 'os-release']);
  const out = join(tmp.dir, 'out');
  const get = await vmbak(['files', 'get', 'os01@latest', '/etc/hostname', '/srv/www', '/srv/www/payload.bin', '--to', out], env);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /^copied \/etc\/hostname \(file\) to /m);
  assert.equal(readFileSync(join(out, 'hostname'), 'utf8'), 'guest-os-01\n');
  // /srv is the second filesystem, mounted over the root's own /srv.
  assert.equal(readFileSync(join(out, 'www/index.html'), 'utf8'), '<p>on /srv</p>\n');
  assert.deepEqual(readFileSync(join(out, 'payload.bin')), payload);
  assert.equal(lstatSync(join(out, 'payload.bin')).mode & 0o7777, 0o600);
});

test('a bare /path where inspection finds no OS fails with one line naming the filesystem ids to use', async () => {
  const r = await vmbak(['files', 'ls', 'data01@latest', '/www'], env);
  assert.ok(isCleanError(r), r.stderr);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^vmbak: a bare path needs one guest OS, but backup \S+ holds no guest OS that inspection recognises: give FILESYSTEM:\/path with one of: data ext4\n$/);
});

test('the API takes a bare path= too: a listing of /srv/www (fs "/") and a download of /etc/hostname', { timeout: 300_000 }, async () => {
  const dataDir = join(tmp.dir, 'data');
  writeFileSync(join(tmp.dir, 'repo.pass'), `${env.VMBAK_PASSPHRASE}\n`);
  writeFileSync(join(tmp.dir, 'vmbak.yaml'), `repositories:\n  - { name: local, url: ${env.VMBAK_REPO}, passphraseFile: repo.pass }\npolicies: []\n`);
  const made = await vmbak(['token', 'create', '--data-dir', dataDir, '--role', 'operator', '--name', 'ops']);
  assert.equal(made.code, 0, made.stderr);
  const token = made.stdout.trim().split('\n').at(-1)!;
  const base = `http://127.0.0.1:${await findFreePort()}`;
  const child = spawnVmbak(['serve', '--data-dir', dataDir, '--config', join(tmp.dir, 'vmbak.yaml'), '--listen', base.replace('http://', ''), '--no-local-agent', '--rebuild-catalog']);
  child.stdout!.resume();
  child.stderr!.resume();
  try {
    const deadline = Date.now() + 60_000;
    while ((await fetch(`${base}/api/v1/health`).catch(() => null))?.status !== 200) {
      assert.ok(Date.now() < deadline, 'serve did not come up');
      await new Promise((r) => setTimeout(r, 200));
    }
    const get = (path: string) => fetch(`${base}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    const backups = (await (await get('/backups?vm=os01')).json()) as { items: { backupId: string }[] };
    const backupId = backups.items[0]!.backupId;
    const dir = await get(`/backups/local/${backupId}/files?path=${encodeURIComponent('/srv/www')}`);
    assert.equal(dir.status, 200, await dir.clone().text());
    const listing = (await dir.json()) as { fs: string; entries: { name: string }[] };
    assert.deepEqual([listing.fs, listing.entries.map((e) => e.name)], ['/', ['index.html', 'payload.bin']]);
    const file = await get(`/backups/local/${backupId}/files/download?path=${encodeURIComponent('/etc/hostname')}`);
    assert.equal(file.status, 200, await file.clone().text());
    assert.equal(await file.text(), 'guest-os-01\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
});
