// Test support for the libvirt adapter: a real libvirtd + QEMU (TCG) started on demand, test
// VMs defined from generated XML with qcow2/raw disks in a temp dir, guest writes made by QEMU
// itself (HMP qemu-io on the disk's virtio backend), and teardown that also runs on failure.
// Under CI=true a missing libvirt fails the test instead of skipping it.

import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { ensureLocalLibvirt } from '../../src/hypervisors/libvirt/index.ts';

const run = promisify(execFile);
export const TEST_URI = 'qemu:///system';
const QEMU_UID = 64055;
const KVM_GID = 108;

export async function virshTest(...args: string[]): Promise<string> {
  const { stdout } = await run('virsh', ['-q', '-c', TEST_URI, ...args], { maxBuffer: 32 * 1024 * 1024 });
  return stdout;
}

/**
 * Starts virtlogd/libvirtd if needed (ensureLocalLibvirt) and waits for them. Returns null when libvirt
 * works, else the reason; under CI=true the reason is thrown instead (a test never skips in CI).
 */
export async function ensureLibvirt(): Promise<string | null> {
  const libvirt = await ensureLocalLibvirt();
  const reason = libvirt.ok ? null : libvirt.reason;
  if (reason && process.env.CI === 'true') throw new Error(`libvirt unavailable under CI: ${reason}`);
  return reason;
}

export interface TestDiskSpec {
  readonly target: string;
  readonly format: 'qcow2' | 'raw';
  readonly sizeBytes: number;
}

export interface TestDisk extends TestDiskSpec {
  readonly path: string;
}

export interface TestVmOptions {
  readonly disks: readonly TestDiskSpec[];
  readonly namePrefix?: string;
  readonly tags?: readonly string[];
  /** 'paused' (default: no guest OS needed), 'running', or 'defined' (shut off). */
  readonly start?: 'paused' | 'running' | 'defined';
  /** Extra XML inside <devices> (e.g. the guest agent channel). */
  readonly extraDevicesXml?: string;
  /** Direct kernel boot for the tiny test guest. */
  readonly kernel?: { kernel: string; initrd: string; cmdline: string };
  readonly memoryMiB?: number;
}

export interface TestVm {
  readonly name: string;
  readonly uuid: string;
  readonly dir: string;
  readonly disks: readonly TestDisk[];
  destroy(): Promise<void>;
}

const liveVms = new Set<string>();

export function domainXmlFor(name: string, disks: readonly TestDisk[], opts: TestVmOptions): string {
  const diskXml = disks.map((d) => `    <disk type='file' device='disk'>
      <driver name='qemu' type='${d.format}'/>
      <source file='${d.path}'/>
      <target dev='${d.target}' bus='virtio'/>
      <alias name='ua-${d.target}'/>
    </disk>`).join('\n');
  const tags = opts.tags?.length
    ? `  <metadata><vmbak:vm xmlns:vmbak="https://vmbak.dev/xmlns/1">${opts.tags.map((t) => `<vmbak:tag>${t}</vmbak:tag>`).join('')}</vmbak:vm></metadata>\n`
    : '';
  const boot = opts.kernel
    ? `<kernel>${opts.kernel.kernel}</kernel><initrd>${opts.kernel.initrd}</initrd><cmdline>${opts.kernel.cmdline}</cmdline>`
    : '';
  return `<domain type='qemu'>
  <name>${name}</name>
${tags}  <memory unit='MiB'>${opts.memoryMiB ?? 64}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${boot}</os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
${diskXml}
    <interface type='user'><mac address='52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}'/><model type='virtio'/></interface>
    <serial type='pty'/>
${opts.extraDevicesXml ?? ''}
  </devices>
</domain>
`;
}

/** Defines (and by default starts paused) a test VM whose disks live in a fresh temp dir. */
export async function createTestVm(opts: TestVmOptions): Promise<TestVm> {
  const name = `${opts.namePrefix ?? 'vmbak-test'}-${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  chownSync(dir, QEMU_UID, KVM_GID);
  const disks: TestDisk[] = [];
  for (const spec of opts.disks) {
    const path = join(dir, `${spec.target}.${spec.format}`);
    await run('qemu-img', ['create', '-q', '-f', spec.format, path, String(spec.sizeBytes)]);
    chownSync(path, QEMU_UID, KVM_GID);
    disks.push({ ...spec, path });
  }
  const xmlPath = join(dir, 'domain.xml');
  writeFileSync(xmlPath, domainXmlFor(name, disks, opts));
  await virshTest('define', xmlPath);
  liveVms.add(name);
  const start = opts.start ?? 'paused';
  if (start !== 'defined') await virshTest('start', name, ...(start === 'paused' ? ['--paused'] : []));
  const uuid = (await virshTest('domuuid', name)).trim();
  return { name, uuid, dir, disks, destroy: () => destroyTestVm(name, dir) };
}

/** Destroys and undefines a VM (checkpoint metadata too) and removes its directory. */
export async function destroyTestVm(name: string, dir?: string): Promise<void> {
  await virshTest('destroy', name).catch(() => undefined);
  await virshTest('undefine', name, '--checkpoints-metadata', '--nvram').catch(() =>
    virshTest('undefine', name, '--checkpoints-metadata').catch(() => undefined));
  liveVms.delete(name);
  if (dir) rmSync(dir, { recursive: true, force: true });
}

/** Tears down every VM this process created and has not destroyed yet (for after() hooks). */
export async function destroyAllTestVms(): Promise<void> {
  for (const name of [...liveVms]) await destroyTestVm(name);
}

/**
 * Writes `lengthBytes` of byte `pattern` at `offsetBytes` through QEMU's own block layer, as
 * a guest write would (so dirty bitmaps see it). qemu-io prints into the VM's log, not the
 * reply, so success is an empty reply; the tests then compare content byte for byte.
 */
export async function hmpWrite(vmName: string, target: string, offsetBytes: number, lengthBytes: number, pattern: number): Promise<void> {
  const cmd = `qemu-io -d /machine/peripheral/ua-${target}/virtio-backend "write -P 0x${pattern.toString(16)} ${offsetBytes} ${lengthBytes}"`;
  const out = await virshTest('qemu-monitor-command', vmName, '--hmp', cmd);
  if (out.trim() !== '') throw new Error(`qemu-io write on ${vmName}/${target} failed: ${out.trim()}`);
}

/** Applies the same write to an in-memory model of the disk, so tests know what to expect. */
export function applyWrite(model: Buffer, offsetBytes: number, lengthBytes: number, pattern: number): void {
  model.fill(pattern, offsetBytes, offsetBytes + lengthBytes);
}
