// The CLI as `npm run build` ships it: the bundle (scripts/bundle.config.ts) that bin/vmbak
// runs once built, whereas the rest of the suite runs the TypeScript sources. Built into a
// folder of its own inside the package (so node_modules and package.json are found as from
// dist/), it must load every command (--help evaluates all of their chunks and the packages
// they import) and back up and restore through its chunk workers, byte for byte.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir, sha256File } from './support/vmbak-cli.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLE = join(ROOT, `dist-test-${randomUUID().slice(0, 8)}`);
const tmp = tempDir('built-cli');
after(() => {
  rmSync(BUNDLE, { recursive: true, force: true });
  tmp.remove();
});

async function built(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [join(BUNDLE, 'cli', 'main.js'), ...args], {
    env: { ...process.env, VMBAK_CACHE_DIR: join(tmp.dir, 'cache'), ...env }, maxBuffer: 16 << 20,
  });
}

test('the bundle npm run build makes loads every command, and backs up and restores byte for byte', async () => {
  await run(join(ROOT, 'node_modules', '.bin', 'rolldown'), ['-c', join(ROOT, 'scripts', 'bundle.config.ts')], {
    cwd: ROOT, env: { ...process.env, VMBAK_BUNDLE_DIR: join(BUNDLE, 'cli') },
  });
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  assert.equal((await built(['--version'])).stdout.trim(), version);
  const help = (await built(['--help'])).stdout;
  for (const command of ['repo', 'backup', 'restore', 'files', 'instant', 'serve', 'agent', 'user']) assert.match(help, new RegExp(`^  ${command}\\b`, 'm'));

  // 64 MiB: random data (stored), zeros (holes), and a repeated block (deduplicated).
  const image = join(tmp.dir, 'disk.raw');
  const fd = openSync(image, 'w');
  ftruncateSync(fd, 64 << 20);
  writeSync(fd, randomBytes(6 << 20), 0, 6 << 20, 1 << 20);
  const block = randomBytes(64 << 10);
  for (let at = 40 << 20; at < 48 << 20; at += block.length) writeSync(fd, block, 0, block.length, at);
  closeSync(fd);
  const env = { VMBAK_PASSPHRASE: 'built', VMBAK_REPO: join(tmp.dir, 'repo') };
  await built(['repo', 'init'], env);
  const backup = JSON.parse((await built(['backup', '--image', image, '--vm', 'bundled', '--no-progress', '--json'], env)).stdout) as { bytesNew: number };
  assert.ok(backup.bytesNew > 6 << 20 && backup.bytesNew < 7 << 20, `new bytes ${backup.bytesNew}`);
  await built(['restore', 'latest', '--to', join(tmp.dir, 'out'), '--verify'], env);
  assert.equal(sha256File(join(tmp.dir, 'out', 'disk.raw')), sha256File(image));
});
