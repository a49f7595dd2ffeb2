// The demo with a real guest: a tiny Linux (Debian's kernel, busybox and qemu-guest-agent,
// built by scripts/build-guest.sh) booted under libvirt/QEMU, backed up hot through its guest
// agent, written to from inside, backed up again (only the changes), restored as a new VM that
// boots and still holds what was written. Each step is the `vmbak` command a user would type.
// With `serve`, the VMs and the repository stay and `vmbak serve` runs on them, with an admin
// user for the web console.

import { execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VmbakError, formatBytes, packageRoot } from '../core/index.ts';
import { ensureLocalLibvirt } from '../services/index.ts';

const run = promisify(execFile);
const BUILD_SCRIPT = join(packageRoot(), 'scripts', 'build-guest.sh');
const AGENT_CHANNEL = 'org.qemu.guest_agent.0';
const NOTE = '/mnt/vmbak-demo.txt';

export interface GuestDemoSteps {
  say(text: string): void;
  /** Runs a vmbak command, echoed; returns its stdout. */
  vmbak(args: string[]): Promise<string>;
}

/**
 * Why the guest demo cannot run here (no libvirt, or no guest to build), or null. Libvirt that
 * is installed but not running is started (a machine without systemd starts nothing itself).
 */
export async function guestDemoUnavailable(say: (text: string) => void): Promise<string | null> {
  const libvirt = await ensureLocalLibvirt();
  if (!libvirt.ok) return libvirt.reason;
  if (libvirt.started.length > 0) say(`started ${libvirt.started.join(' and ')}: libvirt was installed but not running`);
  return existsSync(BUILD_SCRIPT) ? null : 'scripts/build-guest.sh is missing';
}

interface BackupResult { backupId: string; bytesRead: number; bytesNew: number; bytesStored: number; durationMs: number; incremental: boolean }

export async function runGuestDemo(dir: string, steps: GuestDemoSteps, keep: boolean): Promise<{ vms: string[] }> {
  const { say } = steps;
  say('building a tiny real guest: Debian\'s kernel, busybox and qemu-guest-agent (cached after the first run)');
  const { stdout } = await run('bash', [BUILD_SCRIPT], { maxBuffer: 1 << 20 });
  const kernel = /^KERNEL=(.+)$/m.exec(stdout)?.[1];
  const initrd = /^INITRD=(.+)$/m.exec(stdout)?.[1];
  if (!kernel || !initrd) throw new VmbakError('INTERNAL', { detail: 'scripts/build-guest.sh printed no kernel and initrd' });

  const name = `vmbak-demo-${randomBytes(3).toString('hex')}`;
  const vmDir = join(dir, 'vm');
  mkdirSync(vmDir, { recursive: true });
  const [uid, gid] = await qemuAccount();
  chownSync(vmDir, uid, gid);
  chmodSync(dir, 0o755);
  const disk = join(vmDir, 'vda.qcow2');
  await run('truncate', ['-s', '128M', join(vmDir, 'vda.raw')]);
  await run('mkfs.ext4', ['-q', '-F', '-L', 'demo', join(vmDir, 'vda.raw')]);
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', join(vmDir, 'vda.raw'), disk]);
  await run('rm', ['-f', join(vmDir, 'vda.raw')]);
  chownSync(disk, uid, gid);
  writeFileSync(join(vmDir, 'domain.xml'), domainXml(name, kernel, initrd, disk));
  const vms = [name];
  try {
    say(`virsh define + start ${name} (TCG: no hardware virtualisation needed), waiting for its guest agent`);
    await virsh(['define', join(vmDir, 'domain.xml')]);
    await virsh(['start', name]);
    await waitForAgent(name, 120_000);

    await steps.vmbak(['repo', 'init']);
    const first = JSON.parse(await steps.vmbak(['backup', '--vm', name, '--json', '--no-progress'])) as BackupResult;
    const note = `written in the guest at ${new Date().toISOString()}\n`;
    say(`writing ${NOTE} inside the running guest (through its agent)`);
    await writeGuestFile(name, NOTE, note);
    const second = JSON.parse(await steps.vmbak(['backup', '--vm', name, '--json', '--no-progress'])) as BackupResult;
    await steps.vmbak(['backups', 'ls']);

    const restored = `${name}-restored`;
    await steps.vmbak(['restore', `${name}@latest`, '--as-vm', restored, '--pool-dir', join(dir, 'restored'), '--start', '--verify', '--no-progress']);
    vms.push(restored);
    say(`waiting for ${restored} to boot and reading ${NOTE} inside it`);
    await waitForAgent(restored, 120_000);
    const seen = await readGuestFile(restored, NOTE);

    const line = (r: BackupResult) => `read ${formatBytes(r.bytesRead)}, stored ${formatBytes(r.bytesStored)} in ${r.durationMs} ms${r.incremental ? ' (incremental: changed blocks only)' : ''}`;
    say('summary');
    process.stdout.write(`  first backup (hot, guest quiesced): ${line(first)}\n`
      + `  second backup after the write:     ${line(second)}\n`
      + `  ${restored} booted from the restore and ${seen === note ? 'holds' : 'does NOT hold'} the file written in the guest\n`);
    if (seen !== note) throw new VmbakError('INTERNAL', { detail: `the restored guest's ${NOTE} differs from what was written` });
    return { vms };
  } finally {
    if (!keep) for (const vm of vms) await removeVm(vm);
  }
}

/** Runs `vmbak serve` on the demo's repository until interrupted, with a console admin made for it. */
export async function serveDemo(dir: string, env: NodeJS.ProcessEnv, main: string, vms: readonly string[]): Promise<void> {
  const dataDir = join(dir, 'data');
  const password = randomBytes(12).toString('base64url');
  writeFileSync(join(dir, 'admin.password'), `${password}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'repo.pass'), `${env.VMBAK_PASSPHRASE}\n`, { mode: 0o600 });
  const policy = `  - { name: demo, vms: [${vms.map((v) => JSON.stringify(v)).join(', ')}], repositories: [demo], schedule: "0 2 * * *", rpo: 26h, retention: { keepLast: 7 } }\n`;
  writeFileSync(join(dir, 'vmbak.yaml'), `repositories:\n  - { name: demo, url: ${env.VMBAK_REPO}, passphraseFile: repo.pass }\n`
    + (vms.length > 0 ? `policies:\n${policy}` : 'policies: []\n'));
  await run(process.execPath, [main, 'user', 'create', '--data-dir', dataDir, '--role', 'admin', '--name', 'admin', '--password-file', join(dir, 'admin.password')], { env });
  process.stdout.write(`\n== the console: http://127.0.0.1:8470/  user admin, password ${password} (shown once)\n`
    + `   the demo VMs keep running; remove them with: virsh destroy NAME; virsh undefine NAME (${vms.join(', ')})\n`
    + `   the repository and data stay in ${dir}; Ctrl-C stops vmbak serve\n\n`);
  const child = spawn(process.execPath, [main, 'serve', '--data-dir', dataDir, '--config', join(dir, 'vmbak.yaml'), '--rebuild-catalog'], { env, stdio: 'inherit' });
  await new Promise<void>((resolve) => child.once('close', () => resolve()));
}

async function virsh(args: string[]): Promise<string> {
  const { stdout } = await run('virsh', ['-q', '-c', 'qemu:///system', ...args], { maxBuffer: 16 << 20 });
  return stdout;
}

async function removeVm(name: string): Promise<void> {
  await virsh(['destroy', name]).catch(() => '');
  await virsh(['undefine', name, '--checkpoints-metadata']).catch(() => '');
}

async function qemuAccount(): Promise<[number, number]> {
  const id = async (flag: string, fallback: number) => Number((await run('id', [flag, 'libvirt-qemu']).catch(() => ({ stdout: String(fallback) }))).stdout.trim());
  return [await id('-u', 64055), await id('-g', 108)];
}

async function agent<T>(vm: string, execute: string, args?: Record<string, unknown>): Promise<T> {
  const out = await virsh(['qemu-agent-command', vm, '--timeout', '5', JSON.stringify(args ? { execute, arguments: args } : { execute })]);
  return (JSON.parse(out) as { return: T }).return;
}

async function waitForAgent(vm: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await agent(vm, 'guest-ping');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new VmbakError('INTERNAL', { detail: `the guest agent of ${vm} did not answer in ${timeoutMs / 1000} s: ${(err as Error).message.trim().split('\n').at(-1)}` });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function writeGuestFile(vm: string, path: string, text: string): Promise<void> {
  const handle = await agent<number>(vm, 'guest-file-open', { path, mode: 'w' });
  try {
    await agent(vm, 'guest-file-write', { handle, 'buf-b64': Buffer.from(text).toString('base64') });
    await agent(vm, 'guest-file-flush', { handle });
  } finally {
    await agent(vm, 'guest-file-close', { handle }).catch(() => undefined);
  }
}

async function readGuestFile(vm: string, path: string): Promise<string> {
  const handle = await agent<number>(vm, 'guest-file-open', { path, mode: 'r' });
  try {
    const r = await agent<{ 'buf-b64': string }>(vm, 'guest-file-read', { handle, count: 65536 });
    return Buffer.from(r['buf-b64'], 'base64').toString('utf8');
  } finally {
    await agent(vm, 'guest-file-close', { handle }).catch(() => undefined);
  }
}

/** A pty console: the restored VM gets the same XML, and two VMs cannot share a console file. */
function domainXml(name: string, kernel: string, initrd: string, disk: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>192</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${kernel}</kernel>
    <initrd>${initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'><target port='0'/></serial>
    <channel type='unix'><target type='virtio' name='${AGENT_CHANNEL}'/></channel>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}
