// Which accelerator libguestfs's appliance may use. On some hosts /dev/kvm opens but QEMU
// aborts under it (e.g. "failed to set MSR 0x10a" in nested set-ups), and libguestfs would
// then fail every launch; a 50 ms probe — QEMU started paused under KVM with the host CPU,
// then told to quit — tells, and the appliance falls back to TCG (slower, but it works).

import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';

let kvmUsable: Promise<boolean> | null = null;

/** The environment for guestfish: the direct back-end, and TCG where KVM is unusable. */
export async function libguestfsEnv(base: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  const env: NodeJS.ProcessEnv = { ...base, LIBGUESTFS_BACKEND: base.LIBGUESTFS_BACKEND ?? 'direct' };
  // The user's own setting wins.
  if (base.LIBGUESTFS_BACKEND_SETTINGS === undefined && !(await isKvmUsable())) env.LIBGUESTFS_BACKEND_SETTINGS = 'force_tcg';
  return env;
}

export function isKvmUsable(): Promise<boolean> {
  kvmUsable ??= probeKvm();
  return kvmUsable;
}

async function probeKvm(): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  if (process.arch !== 'x64') return true;
  return new Promise((resolve) => {
    const qemu = spawn('qemu-system-x86_64', ['-accel', 'kvm', '-cpu', 'host', '-M', 'q35', '-nodefaults', '-display', 'none', '-no-reboot', '-S', '-qmp', 'stdio'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const timer = setTimeout(() => { qemu.kill('SIGKILL'); resolve(false); }, 10_000);
    qemu.on('error', () => { clearTimeout(timer); resolve(false); });
    qemu.on('close', (code) => { clearTimeout(timer); resolve(code === 0); });
    qemu.stdin.on('error', () => {});
    qemu.stdin.end('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n');
  });
}
