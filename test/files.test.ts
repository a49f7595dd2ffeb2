// End to end through `vmbak files ls|get`: disk images built here (GPT + ext4 with a swap
// partition beside it, MBR + XFS, MBR + NTFS + FAT, LVM + ext4) with known files, backed up, then browsed and copied out
// through libguestfs's appliance reading the backup over NBD — byte-identical files, modes,
// owners, mtimes and symlinks kept; unknown paths and unbrowsable filesystems fail with one
// clean line. Every `files` command launches one appliance (~20 s under TCG here), so the
// file keeps to five of them (one builds the LVM disk); refusing an unbrowsable filesystem (swap here) is only listed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { libguestfsEnv } from '../src/files/index.ts';
import { vmbak, tempDir, jsonLine, isCleanError } from './support/vmbak-cli.ts';

const MiB = 1024 * 1024;
const tmp = tempDir('files');
const env = { VMBAK_PASSPHRASE: 'correct horse', VMBAK_REPO: join(tmp.dir, 'repo') };
const ext4Src = join(tmp.dir, 'ext4-src');
const xfsSrc = join(tmp.dir, 'xfs-src');
const OLD_MTIME_S = 1_577_934_245; // 2020-01-02T03:04:05Z
const binary = randomBytes(3 * MiB + 123);

function sh(cmd: string, args: string[], input?: string, env: NodeJS.ProcessEnv = process.env): void {
  execFileSync(cmd, args, { input, env, stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
}

/** A disk image of `sizeMiB` with one partition table, and `parts` written at their offsets. */
function buildDisk(path: string, sizeMiB: number, label: 'gpt' | 'dos', parts: { file: string; sizeMiB: number }[]): void {
  sh('truncate', ['-s', `${sizeMiB}M`, path]);
  let startMiB = 1;
  const lines = parts.map((p) => { const l = `start=${startMiB * 2048}, size=${p.sizeMiB * 2048}`; startMiB += p.sizeMiB; return l; });
  sh('sfdisk', ['-q', path], `label: ${label}\n${lines.join('\n')}\n`);
  startMiB = 1;
  for (const p of parts) {
    sh('dd', [`if=${p.file}`, `of=${path}`, 'bs=1M', `seek=${startMiB}`, 'conv=notrunc,sparse', 'status=none']);
    startMiB += p.sizeMiB;
  }
}

before(() => {
  // ext4 on GPT, filled with mkfs.ext4 -d (keeps modes, owners, mtimes, symlinks).
  mkdirSync(join(ext4Src, 'sub/deep'), { recursive: true });
  writeFileSync(join(ext4Src, 'hello.txt'), 'hello from ext4\n');
  writeFileSync(join(ext4Src, 'naïve "name" with space.txt'), 'quoted\n');
  writeFileSync(join(ext4Src, 'sub/binary.dat'), binary);
  writeFileSync(join(ext4Src, 'sub/deep/secret.txt'), 'only for group\n');
  chmodSync(join(ext4Src, 'sub/deep/secret.txt'), 0o640);
  chownSync(join(ext4Src, 'sub/binary.dat'), 1234, 2345);
  symlinkSync('../hello.txt', join(ext4Src, 'sub/to-hello'));
  symlinkSync('sub/deep', join(ext4Src, 'deep-link'));
  utimesSync(join(ext4Src, 'sub/deep/secret.txt'), OLD_MTIME_S, OLD_MTIME_S);
  const ext4 = join(tmp.dir, 'ext4.part');
  sh('mkfs.ext4', ['-q', '-F', '-d', ext4Src, ext4, '40M']);
  const swap = join(tmp.dir, 'swap.part');
  sh('truncate', ['-s', '8M', swap]);
  sh('mkswap', ['-q', swap]);
  buildDisk(join(tmp.dir, 'gpt.img'), 52, 'gpt', [{ file: ext4, sizeMiB: 40 }, { file: swap, sizeMiB: 8 }]);

  // XFS on MBR, filled from a prototype file (mkfs.xfs -p: modes, owners, symlinks; no mtimes).
  mkdirSync(xfsSrc);
  writeFileSync(join(xfsSrc, 'notes.txt'), 'xfs notes\n');
  writeFileSync(join(xfsSrc, 'inner.bin'), binary.subarray(0, 200_000));
  const proto = join(tmp.dir, 'xfs.proto');
  writeFileSync(proto, ['/dev/null', '0 0', 'd--755 0 0',
    `notes.txt ---600 1001 1002 ${join(xfsSrc, 'notes.txt')}`, 'ln l--777 0 0 notes.txt',
    'dir d--750 0 0', `inner.bin ---644 0 0 ${join(xfsSrc, 'inner.bin')}`, '$', '$', ''].join('\n'));
  const xfs = join(tmp.dir, 'xfs.part');
  sh('truncate', ['-s', '320M', xfs]);
  sh('mkfs.xfs', ['-q', '-p', proto, xfs]);
  buildDisk(join(tmp.dir, 'mbr.img'), 322, 'dos', [{ file: xfs, sizeMiB: 320 }]);
});

before(() => {
  // NTFS and FAT on MBR, filled without mounting (ntfscp, mtools).
  const ntfs = join(tmp.dir, 'ntfs.part');
  sh('truncate', ['-s', '16M', ntfs]);
  sh('mkntfs', ['-F', '-Q', '-q', ntfs]);
  sh('ntfscp', ['-f', ntfs, join(ext4Src, 'sub/binary.dat'), '/binary.dat']);
  const fat = join(tmp.dir, 'fat.part');
  sh('mkfs.vfat', ['-C', fat, String(16 * 1024)]);
  sh('mmd', ['-i', fat, '::/docs']);
  sh('mcopy', ['-i', fat, join(xfsSrc, 'notes.txt'), '::/docs/notes.txt']);
  buildDisk(join(tmp.dir, 'win.img'), 34, 'dos', [{ file: ntfs, sizeMiB: 16 }, { file: fat, sizeMiB: 16 }]);
});

before(async () => {
  // LVM + ext4: made by libguestfs itself (the host's device mapper stays out of it).
  const data = join(tmp.dir, 'data.img');
  sh('truncate', ['-s', '40M', data]);
  const script = ['run', 'part-disk /dev/sda mbr', 'pvcreate /dev/sda1', 'vgcreate vg0 /dev/sda1', 'lvcreate root vg0 24',
    'mkfs ext4 /dev/vg0/root', 'mount /dev/vg0/root /', 'mkdir /etc', 'write /etc/hostname "lvm-guest\\n"',
    'chmod 0640 /etc/hostname', 'chown 1500 1600 /etc/hostname', `utimens /etc/hostname 0 0 ${OLD_MTIME_S} 0`, 'ln-s hostname /etc/name-link'];
  sh('guestfish', ['--rw', '--format=raw', '-a', data], `${script.join('\n')}\n`, await libguestfsEnv());
});

before(async () => {
  assert.equal((await vmbak(['repo', 'init'], env)).code, 0);
  const images = ['gpt', 'mbr', 'win', 'data'].flatMap((d) => ['--image', join(tmp.dir, `${d}.img`)]);
  const b = await vmbak(['backup', ...images, '--vm', 'files01', '--no-progress'], env);
  assert.equal(b.code, 0, b.stderr);
});
after(() => tmp.remove());

test('files ls lists the filesystems (id, type) and a directory with types, modes, owners, mtimes and link targets', async () => {
  // One after the other: two TCG appliances on two shared cores are slower than in turn.
  const fss = await vmbak(['files', 'ls', 'files01@latest'], env);
  const dir = await vmbak(['files', 'ls', 'files01@latest', 'gpt/p1:/sub', '--json'], env);
  assert.equal(fss.code, 0, fss.stderr);
  assert.deepEqual(fss.stdout.trim().split('\n').sort(), ['data/lvm/vg0/root ext4', 'gpt/p1 ext4', 'gpt/p2 swap', 'mbr/p1 xfs', 'win/p1 ntfs', 'win/p2 vfat']);
  assert.equal(dir.code, 0, dir.stderr);
  const listing = jsonLine<{ fs: string; launchMs: number; entries: { name: string; type: string; sizeBytes: number; mode: string; uid: number; gid: number; mtime: string; target: string | null }[] }>(dir);
  assert.equal(listing.fs, 'gpt/p1');
  const byName = new Map(listing.entries.map((e) => [e.name, e]));
  assert.deepEqual([...byName.keys()], ['binary.dat', 'deep', 'to-hello']);
  assert.deepEqual(byName.get('binary.dat'), { name: 'binary.dat', type: 'file', sizeBytes: binary.length, mode: '0644', uid: 1234, gid: 2345, mtime: byName.get('binary.dat')!.mtime, target: null });
  assert.equal(byName.get('deep')!.type, 'dir');
  assert.equal(byName.get('to-hello')!.type, 'symlink');
  assert.equal(byName.get('to-hello')!.target, '../hello.txt');
  process.stderr.write(`# appliance launch: ${listing.launchMs} ms\n`);
});

test('files get copies files, symlinks and directories from ext4 (GPT, LVM), XFS, NTFS and FAT byte-identical, keeping modes, owners and mtimes', async () => {
  const out = join(tmp.dir, 'out');
  const r = await vmbak(['files', 'get', 'files01@latest', 'gpt/p1:/sub', 'gpt/p1:/hello.txt', 'gpt/p1:/deep-link', 'gpt/p1:/naïve "name" with space.txt',
    'mbr/p1:/notes.txt', 'mbr/p1:/ln', 'mbr/p1:/dir', 'win/p1:/binary.dat', 'win/p2:/docs', 'data/lvm/vg0/root:/etc', '--to', out], env);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readFileSync(join(out, 'sub/binary.dat')), binary);
  assert.equal(readFileSync(join(out, 'hello.txt'), 'utf8'), 'hello from ext4\n');
  assert.equal(readFileSync(join(out, 'naïve "name" with space.txt'), 'utf8'), 'quoted\n');
  assert.equal(readFileSync(join(out, 'sub/deep/secret.txt'), 'utf8'), 'only for group\n');
  const secret = lstatSync(join(out, 'sub/deep/secret.txt'));
  assert.equal(secret.mode & 0o7777, 0o640);
  assert.equal(Math.round(secret.mtimeMs / 1000), OLD_MTIME_S);
  const bin = lstatSync(join(out, 'sub/binary.dat'));
  assert.deepEqual([bin.uid, bin.gid], [1234, 2345]);
  // Whole seconds: the copy travels as a tar, which keeps mtimes to the second (truncated).
  assert.equal(Math.floor(bin.mtimeMs / 1000), Math.floor(lstatSync(join(ext4Src, 'sub/binary.dat')).mtimeMs / 1000));
  assert.equal(readlinkSync(join(out, 'sub/to-hello')), '../hello.txt');
  assert.equal(readlinkSync(join(out, 'deep-link')), 'sub/deep');
  assert.ok(lstatSync(join(out, 'deep-link')).isSymbolicLink());
  // XFS on MBR.
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'xfs notes\n');
  const notes = lstatSync(join(out, 'notes.txt'));
  assert.deepEqual([notes.mode & 0o7777, notes.uid, notes.gid], [0o600, 1001, 1002]);
  assert.equal(readlinkSync(join(out, 'ln')), 'notes.txt');
  assert.equal(lstatSync(join(out, 'dir')).mode & 0o7777, 0o750);
  assert.deepEqual(readFileSync(join(out, 'dir/inner.bin')), binary.subarray(0, 200_000));
  // NTFS and FAT on MBR; ext4 on LVM.
  assert.deepEqual(readFileSync(join(out, 'binary.dat')), binary);
  assert.equal(readFileSync(join(out, 'docs/notes.txt'), 'utf8'), 'xfs notes\n');
  assert.equal(readFileSync(join(out, 'etc/hostname'), 'utf8'), 'lvm-guest\n');
  const hostname = lstatSync(join(out, 'etc/hostname'));
  assert.deepEqual([hostname.mode & 0o7777, hostname.uid, hostname.gid, Math.round(hostname.mtimeMs / 1000)], [0o640, 1500, 1600, OLD_MTIME_S]);
  assert.equal(readlinkSync(join(out, 'etc/name-link')), 'hostname');
});

test('an unknown path fails with one line naming it and nothing is copied; a bad FS:/path and a missing guestfish fail cleanly', async () => {
  const none = join(tmp.dir, 'none');
  const missing = await vmbak(['files', 'get', 'files01@latest', 'gpt/p1:/hello.txt', 'gpt/p1:/sub/nope.txt', '--to', none], env);
  assert.ok(isCleanError(missing), missing.stderr);
  assert.match(missing.stderr, /no \/sub\/nope\.txt in filesystem gpt\/p1 of backup/);
  assert.equal(existsSync(none), false);
  const usage = await vmbak(['files', 'ls', 'files01@latest', 'no-colon'], env);
  assert.ok(isCleanError(usage), usage.stderr);
  assert.equal(usage.code, 2);
  // No guestfish on the PATH: TOOL_MISSING, one line.
  const noTool = await vmbak(['files', 'ls', 'files01@latest'], { ...env, PATH: '/nowhere' });
  assert.ok(isCleanError(noTool), noTool.stderr);
  assert.match(noTool.stderr, /guestfish is not installed/);
});
