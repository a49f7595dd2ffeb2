// What vmbak reports done is on disk. A restored image is fsynced under its temporary name,
// renamed, and the rename made durable with an fsync of the folder — otherwise a crash after
// "restored" could leave a file of the right size holding holes the page cache never wrote,
// and in place that file is the VM's disk. A backup's objects in a local repository get the
// same: a power cut after "backed up" must not take the manifest's name. Watched with strace
// on the real command.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { MAIN, tempDir, vmbak } from './support/vmbak-cli.ts';

const tmp = tempDir('durable');
after(() => tmp.remove());
const repo = join(tmp.dir, 'repo');

/** The system calls of a traced command that matter here, in order, with paths for descriptors. */
interface Call { readonly op: string; readonly path: string; readonly to?: string }

function traceVmbak(args: string[]): Call[] {
  const log = join(tmp.dir, `strace-${randomBytes(4).toString('hex')}.log`);
  const r = spawnSync('strace', ['-f', '-qq', '-o', log, '-e', 'trace=openat,fsync,fdatasync,rename,renameat,renameat2,link,linkat',
    process.execPath, MAIN, ...args], { env: { ...process.env, VMBAK_CACHE_DIR: join(tmp.dir, 'cache') }, encoding: 'utf8' });
  assert.equal(r.error, undefined, `strace: ${r.error?.message}`);
  assert.equal(r.status, 0, r.stderr);
  // Descriptors are per process; the workers are threads of the one traced node process.
  const open = new Map<string, string>();
  const calls: Call[] = [];
  // A call another thread interrupts comes in two lines: "<unfinished ...>", then "<... resumed>".
  const started = new Map<string, string>();
  for (const raw of readFileSync(log, 'utf8').split('\n')) {
    const pid = raw.split(/\s/, 1)[0]!;
    let line = raw;
    if (raw.endsWith(' <unfinished ...>')) { started.set(pid, raw.slice(0, -' <unfinished ...>'.length)); continue; }
    const resumed = /^\d+\s+<\.\.\. \w+ resumed>(.*)$/.exec(raw);
    if (resumed) { line = (started.get(pid) ?? '') + resumed[1]; started.delete(pid); }
    let m = /^\d+\s+openat\(AT_FDCWD, "([^"]+)", [^)]*\)\s+= (\d+)$/.exec(line);
    if (m) { open.set(m[2]!, m[1]!); continue; }
    m = /^\d+\s+(fsync|fdatasync)\((\d+)\)\s+= 0$/.exec(line);
    if (m) { calls.push({ op: m[1]!, path: open.get(m[2]!) ?? `fd ${m[2]}` }); continue; }
    // A new name: rename over, or link (create-if-absent, for manifests).
    m = /^\d+\s+(?:rename|link)(?:at2?)?\((?:AT_FDCWD, )?"([^"]+)", (?:AT_FDCWD, )?"([^"]+)"[^)]*\)\s+= 0$/.exec(line);
    if (m) calls.push({ op: 'rename', path: m[1]!, to: m[2]! });
  }
  return calls;
}

function assertDurable(calls: Call[], finalPath: string, dir: string): void {
  const renamed = calls.findIndex((c) => c.op === 'rename' && c.to === finalPath);
  assert.ok(renamed >= 0, `no rename to ${finalPath}: ${JSON.stringify(calls)}`);
  const temporary = calls[renamed]!.path;
  assert.ok(calls.slice(0, renamed).some((c) => c.op === 'fsync' && c.path === temporary), `${temporary} was not fsynced before its rename`);
  assert.ok(calls.slice(renamed + 1).some((c) => c.op === 'fsync' && c.path === dir), `${dir} was not fsynced after the rename`);
}

test('backup and restore fsync each file before its rename and the folder after (manifest; raw and qcow2 image)', async () => {
  const image = join(tmp.dir, 'disk.raw');
  // 40 MiB of data: more than one background flush pass (32 MiB).
  writeFileSync(image, Buffer.concat([randomBytes(20 << 20), Buffer.alloc(4 << 20), randomBytes(20 << 20)]));
  assert.equal((await vmbak(['repo', 'init', '--no-encryption', '--repo', repo])).code, 0);
  const backup = traceVmbak(['backup', '--repo', repo, '--image', image, '--vm', 'durable']);
  const manifest = backup.find((c) => c.op === 'rename' && c.to!.endsWith('/manifest'))!.to!;
  assertDurable(backup, manifest, dirname(manifest));

  const rawDir = join(tmp.dir, 'raw');
  const raw = traceVmbak(['restore', '--repo', repo, 'latest', '--to', rawDir, '--format', 'raw']);
  assertDurable(raw, join(rawDir, 'disk.raw'), rawDir);
  assert.ok(raw.some((c) => c.op === 'fdatasync'), 'written data is flushed while the restore runs');
  assert.ok(readFileSync(join(rawDir, 'disk.raw')).equals(readFileSync(image)));

  const qcowDir = join(tmp.dir, 'qcow2');
  assertDurable(traceVmbak(['restore', '--repo', repo, 'latest', '--to', qcowDir, '--format', 'qcow2']), join(qcowDir, 'disk.qcow2'), qcowDir);
});
