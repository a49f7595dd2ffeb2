// Brings up this machine's libvirt when it is installed but not running, for `vmbak demo` (the
// README's first command, on a machine where installing libvirt started nothing: a container
// or a VM booted without systemd) and the test suite. Backups never call it: on a hypervisor
// host the admin runs libvirt. With systemd the service is started through systemctl; without
// it, virtlogd and libvirtd are started as daemons of their own.

import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { DEFAULT_CONNECT_URI } from './virsh.ts';

const run = promisify(execFile);

export type LocalLibvirt = { readonly ok: true; readonly started: readonly string[] } | { readonly ok: false; readonly reason: string };

/** Makes qemu:///system answer, starting its daemons when allowed; says what it started or why it cannot. */
export async function ensureLocalLibvirt(timeoutMs = 30_000): Promise<LocalLibvirt> {
  if (await answers()) return { ok: true, started: [] };
  if (process.getuid?.() !== 0) return { ok: false, reason: `libvirt (${DEFAULT_CONNECT_URI}) is not reachable, and only root may start it` };
  if (!onPath('libvirtd')) return { ok: false, reason: 'libvirt is not installed (scripts/install-system-deps.sh installs it)' };
  const started: string[] = [];
  if (existsSync('/run/systemd/system')) {
    if (spawnSync('systemctl', ['start', 'libvirtd'], { stdio: 'ignore' }).status === 0) started.push('libvirtd (systemctl)');
  } else {
    for (const daemon of ['virtlogd', 'libvirtd']) {
      if (spawnSync('pgrep', ['-x', daemon]).status === 0) continue;
      if (spawnSync(daemon, ['-d'], { stdio: 'ignore' }).status === 0) started.push(daemon);
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await answers()) return { ok: true, started };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { ok: false, reason: `libvirt (${DEFAULT_CONNECT_URI}) did not answer within ${Math.round(timeoutMs / 1000)} s of starting ${started.join(', ') || 'nothing'}` };
}

async function answers(): Promise<boolean> {
  return run('virsh', ['-q', '-c', DEFAULT_CONNECT_URI, 'version'], { timeout: 10_000 }).then(() => true, () => false);
}

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
