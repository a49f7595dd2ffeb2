// What the tests with a real guest share: a temporary folder for the repository, run records
// and scratch files; the guest (kernel + busybox + qemu-ga, see guest.ts) started once per test
// file with the repository initialised; its console printed when a test failed; and the reason
// to skip when libvirt or the guest image is not available.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLibvirt } from './libvirt.ts';
import { buildTestGuest, startAgentGuest, type GuestVm } from './guest.ts';
import { tempDir, vmbak } from './vmbak-cli.ts';

export interface GuestFixture {
  readonly tmp: { readonly dir: string; remove(): void };
  readonly scratchDir: string;
  readonly stateDir: string;
  /** The environment of vmbak commands against this guest's repository. */
  readonly env: NodeJS.ProcessEnv;
  vm: GuestVm | undefined;
  unavailable: string | null;
  failed: boolean;
}

export function guestFixture(name: string): GuestFixture {
  const tmp = tempDir(name);
  const scratchDir = join(tmp.dir, 'scratch');
  const stateDir = join(tmp.dir, 'runs');
  return {
    tmp, scratchDir, stateDir,
    env: { VMBAK_PASSPHRASE: 'pw', VMBAK_REPO: join(tmp.dir, 'repo'), VMBAK_STATE_DIR: stateDir, VMBAK_SCRATCH_DIR: scratchDir },
    vm: undefined, unavailable: null, failed: false,
  };
}

/** For before(): libvirt and the guest up, the repository initialised; `prepare` runs before the guest starts. */
export async function startGuestFixture(f: GuestFixture, name: string, prepare?: () => NodeJS.ProcessEnv | void): Promise<void> {
  f.unavailable = await ensureLibvirt();
  if (f.unavailable) return;
  const images = await buildTestGuest();
  if (typeof images === 'string') { f.unavailable = images; return; }
  mkdirSync(f.scratchDir);
  mkdirSync(f.stateDir);
  // QEMU runs as its own user and creates the backup's socket and scratch files in here.
  chmodSync(f.tmp.dir, 0o755);
  chmodSync(f.scratchDir, 0o755);
  const env = prepare?.() ?? f.env;
  f.vm = await startAgentGuest(images, { namePrefix: `vmbak-${name}` });
  const init = await vmbak(['repo', 'init'], env);
  assert.equal(init.code, 0, init.stderr);
}

/** For after(): the guest's console if a test failed, then the guest and the folder gone. */
export async function stopGuestFixture(f: GuestFixture): Promise<void> {
  if (f.vm && f.failed) process.stderr.write(`--- console of ${f.vm.name} ---\n${f.vm.consoleTail(60)}\n`);
  await f.vm?.destroy();
  f.tmp.remove();
}
