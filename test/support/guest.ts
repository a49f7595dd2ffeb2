// A tiny real guest for tests that need a guest OS: Debian's kernel booted directly (TCG) with
// the initramfs scripts/build-guest.sh builds. The guest mounts its ext4 disk vda at
// /mnt, keeps writing there (/mnt/writes.log, /mnt/counter) and runs qemu-ga on the
// org.qemu.guest_agent.0 channel, so `virsh domfsfreeze` freezes a filesystem with writes in
// flight. The serial console goes to console.log in the VM's directory, for debugging.
// Under CI=true a guest that cannot be built is an error, never a skip.

import { execFile, spawnSync } from 'node:child_process';
import { chownSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { destroyTestVm, virshTest } from './libvirt.ts';

const run = promisify(execFile);
const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-guest.sh', import.meta.url));
export const AGENT_CHANNEL = 'org.qemu.guest_agent.0';

export interface GuestImages {
  readonly kernel: string;
  readonly initrd: string;
}

/**
 * Builds (or finds in its cache) the guest kernel + initramfs. Returns the images, or the reason
 * they cannot be built; under CI=true the reason is thrown instead.
 */
export async function buildTestGuest(): Promise<GuestImages | string> {
  try {
    const { stdout } = await run('bash', [BUILD_SCRIPT], { maxBuffer: 1024 * 1024 });
    const kernel = /^KERNEL=(.+)$/m.exec(stdout)?.[1];
    const initrd = /^INITRD=(.+)$/m.exec(stdout)?.[1];
    if (!kernel || !initrd) throw new Error(`build-guest.sh printed no KERNEL=/INITRD= lines: ${stdout}`);
    return { kernel, initrd };
  } catch (err) {
    const e = err as Error & { stderr?: string };
    const reason = `cannot build the test guest: ${(e.stderr?.trim() || e.message).split('\n')[0]}`;
    if (process.env.CI === 'true') throw new Error(reason, { cause: err });
    return reason;
  }
}

export interface GuestVm {
  readonly name: string;
  readonly uuid: string;
  readonly dir: string;
  /** The qcow2 image of vda (ext4 over the whole disk). */
  readonly diskPath: string;
  readonly diskBytes: number;
  readonly consoleLog: string;
  /** The last lines the guest printed on its serial console. */
  consoleTail(lines?: number): string;
  destroy(): Promise<void>;
}

export interface GuestVmOptions {
  readonly namePrefix?: string;
  readonly diskMiB?: number;
  readonly memoryMiB?: number;
  /** How long to wait for the agent to answer guest-ping after start (TCG boots in ~6 s idle). */
  readonly bootTimeoutMs?: number;
}

function idOf(flag: '-u' | '-g', user: string, fallback: number): number {
  const r = spawnSync('id', [flag, user], { encoding: 'utf8' });
  return r.status === 0 ? Number(r.stdout.trim()) : fallback;
}

export function guestDomainXml(name: string, images: GuestImages, diskPath: string, consoleLog: string, memoryMiB: number): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>${memoryMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${images.kernel}</kernel>
    <initrd>${images.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 loglevel=4</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${diskPath}'/>
      <target dev='vda' bus='virtio'/>
      <alias name='ua-vda'/>
    </disk>
    <serial type='file'>
      <source path='${consoleLog}'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='${AGENT_CHANNEL}'/>
    </channel>
    <memballoon model='none'/>
  </devices>
</domain>
`;
}

/** Runs one guest agent command through libvirt and returns its `return` value. */
export async function agentCommand<T = unknown>(vmName: string, execute: string, args?: Record<string, unknown>, timeoutS = 5): Promise<T> {
  const cmd = JSON.stringify(args ? { execute, arguments: args } : { execute });
  const out = await virshTest('qemu-agent-command', vmName, '--timeout', String(timeoutS), cmd);
  return (JSON.parse(out) as { return: T }).return;
}

/** Reads a (small) file inside the guest through the agent. */
export async function readGuestFile(vmName: string, path: string): Promise<string> {
  const handle = await agentCommand<number>(vmName, 'guest-file-open', { path, mode: 'r' });
  try {
    const r = await agentCommand<{ 'buf-b64': string }>(vmName, 'guest-file-read', { handle, count: 65536 });
    return Buffer.from(r['buf-b64'], 'base64').toString('utf8');
  } finally {
    await agentCommand(vmName, 'guest-file-close', { handle }).catch(() => undefined);
  }
}

/**
 * Creates vda (ext4 in qcow2), defines and starts the guest, and waits until its agent answers
 * guest-ping. On any failure the VM is torn down and the error carries the console's tail.
 */
export async function startAgentGuest(images: GuestImages, opts: GuestVmOptions = {}): Promise<GuestVm> {
  const name = `${opts.namePrefix ?? 'vmbak-guest'}-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const uid = idOf('-u', 'libvirt-qemu', 64055);
  const gid = idOf('-g', 'libvirt-qemu', 108);
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o755);
  const diskBytes = (opts.diskMiB ?? 64) * 1024 * 1024;
  const diskPath = join(dir, 'vda.qcow2');
  const consoleLog = join(dir, 'console.log');
  const consoleTail = (lines = 40): string =>
    existsSync(consoleLog) ? readFileSync(consoleLog, 'utf8').trimEnd().split('\n').slice(-lines).join('\n') : '(no console output)';
  let defined = false;
  const destroy = async (): Promise<void> => {
    if (defined) await destroyTestVm(name);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const raw = join(dir, 'vda.raw');
    writeFileSync(raw, '');
    await run('truncate', ['-s', String(diskBytes), raw]);
    await run('mkfs.ext4', ['-q', '-F', '-L', 'vmbak-guest', '-E', 'lazy_itable_init=0,lazy_journal_init=0', raw]);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, diskPath]);
    rmSync(raw);
    chownSync(diskPath, uid, gid);
    const xmlPath = join(dir, 'domain.xml');
    writeFileSync(xmlPath, guestDomainXml(name, images, diskPath, consoleLog, opts.memoryMiB ?? 192));
    await virshTest('define', xmlPath);
    defined = true;
    await virshTest('start', name);
    const uuid = (await virshTest('domuuid', name)).trim();
    await waitForAgent(name, opts.bootTimeoutMs ?? 90_000);
    return { name, uuid, dir, diskPath, diskBytes, consoleLog, consoleTail, destroy };
  } catch (err) {
    const tail = consoleTail();
    await destroy();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n--- guest console (last lines) ---\n${tail}`, { cause: err });
  }
}

/** Polls guest-ping until it answers; fails early when the domain stops running. */
export async function waitForAgent(vmName: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      await agentCommand(vmName, 'guest-ping', undefined, 2);
      return;
    } catch (err) {
      last = err instanceof Error ? err.message.trim().split('\n').at(-1)! : String(err);
    }
    const state = (await virshTest('domstate', vmName).catch(() => 'unknown')).trim();
    if (state !== 'running') throw new Error(`guest ${vmName} is ${state}, not running, while waiting for its agent`);
    if (Date.now() > deadline) {
      throw new Error(`guest agent of ${vmName} did not answer guest-ping within ${timeoutMs} ms (last: ${last})`);
    }
    await sleep(500);
  }
}

/** The agent's view of the guest's filesystems: 'thawed' or 'frozen'. */
export function freezeStatus(vmName: string): Promise<string> {
  return agentCommand<string>(vmName, 'guest-fsfreeze-status');
}

/** The guest writer's counter (/mnt/counter); the agent refuses file reads while frozen. */
export async function guestWriteCounter(vmName: string): Promise<number> {
  return Number((await readGuestFile(vmName, '/mnt/counter')).trim());
}

/**
 * Asserts the guest is thawed and still writing: the agent says 'thawed' and the write counter
 * moves past its current value within timeoutMs. Returns the new value.
 */
export async function assertThawedAndWriting(vmName: string, timeoutMs = 20_000): Promise<number> {
  const status = await freezeStatus(vmName);
  if (status !== 'thawed') throw new Error(`guest ${vmName} reports its filesystems ${status}, not thawed`);
  const start = await guestWriteCounter(vmName);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await guestWriteCounter(vmName).catch(() => start);
    if (c > start) return c;
    if (Date.now() > deadline) throw new Error(`the guest's write counter stayed at ${c} for ${timeoutMs} ms: is /mnt frozen?`);
    await sleep(250);
  }
}
