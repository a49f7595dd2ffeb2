// Simulated hypervisor hosts on one machine: each host is a libvirtd of its own in a private
// mount namespace (`unshare --mount`) whose /run/libvirt, /var/lib/libvirt, /etc/libvirt,
// /var/log/libvirt and /var/cache/libvirt are bind mounts of the host's own directories. So
// each host has its own domains, checkpoints and QEMU processes, and its socket is reachable
// from the machine's namespace at HOSTDIR/run/libvirt-sock (a libvirt URI's `?socket=`).
// The network namespace is shared: agents, the controller, Redis and PostgreSQL all talk over
// loopback, and every path outside the five libvirt directories (disks, scratch directories,
// NBD sockets of backups) is the same for a host's libvirtd and its agent — which pull-mode
// backups need. QEMU logs go to files (stdio_handler = "file"), so no virtlogd per host.
// docs/scale.md ("Simulating hosts on one machine") says why this and not the alternatives.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, cpSync, mkdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const LIBVIRT_QEMU_UID = 64055;
const LIBVIRT_QEMU_GID = 64055;
const KVM_GID = 108;
const BOUND = ['run:/run/libvirt', 'lib:/var/lib/libvirt', 'etc:/etc/libvirt', 'log:/var/log/libvirt', 'cache:/var/cache/libvirt'];

export interface SimulatedHost {
  readonly name: string;
  /** libvirt URI of this host's daemon. */
  readonly uri: string;
  readonly dir: string;
  /** Where this host's VM disks live. */
  readonly imagesDir: string;
  /** The host agent's VMBAK_STATE_DIR and VMBAK_SCRATCH_DIR. */
  readonly stateDir: string;
  readonly scratchDir: string;
  readonly pid: number;
  virsh(...args: string[]): Promise<string>;
  /** Destroys and undefines every domain of this host, then stops its libvirtd (by pid). */
  stop(): Promise<void>;
}

const MOUNT_SCRIPT = `set -e
D="$1"
${BOUND.map((b) => { const [sub, at] = b.split(':'); return `mount --bind "$D/${sub}" ${at}`; }).join('\n')}
exec libvirtd --pid-file "$D/libvirtd.pid"
`;

function prepareHostDir(dir: string): void {
  for (const sub of ['run', 'lib/qemu', 'lib/images', 'log/qemu', 'cache/qemu', 'images', 'state', 'scratch']) mkdirSync(join(dir, sub), { recursive: true });
  cpSync('/etc/libvirt', join(dir, 'etc'), { recursive: true });
  // No networks: test VMs use user-mode networking; no other host's definitions either.
  rmSync(join(dir, 'etc/qemu'), { recursive: true, force: true });
  mkdirSync(join(dir, 'etc/qemu'));
  appendFileSync(join(dir, 'etc/qemu.conf'), '\nstdio_handler = "file"\n');
  chownSync(join(dir, 'lib/qemu'), LIBVIRT_QEMU_UID, LIBVIRT_QEMU_GID);
  // QEMU (libvirt-qemu) opens the disks and the backups' NBD sockets under these.
  for (const sub of ['', 'images', 'scratch']) chownSync(join(dir, sub), LIBVIRT_QEMU_UID, KVM_GID);
  writeFileSync(join(dir, 'mounts.sh'), MOUNT_SCRIPT);
}

async function waitForDaemon(uri: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`libvirtd for ${uri} exited (${child.exitCode}): ${log().slice(-2000)}`);
    try { await run('virsh', ['-q', '-c', uri, 'list']); return; } catch (err) {
      if (Date.now() > deadline) throw new Error(`libvirtd for ${uri} did not answer in 30 s: ${(err as Error).message}\n${log().slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Starts host NAME's libvirtd in its own mount namespace, its files under DIR. */
export async function startSimulatedHost(name: string, dir: string): Promise<SimulatedHost> {
  if (process.getuid?.() !== 0) throw new Error('simulated hosts need root (a libvirtd per host in a mount namespace)');
  prepareHostDir(dir);
  const child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'bash', join(dir, 'mounts.sh'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  child.stderr!.on('data', (d: Buffer) => { out += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const uri = `qemu:///system?socket=${join(dir, 'run', 'libvirt-sock')}`;
  const virsh = async (...args: string[]) => (await run('virsh', ['-q', '-c', uri, ...args], { maxBuffer: 16 << 20 })).stdout;
  try {
    await waitForDaemon(uri, child, () => out);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    name, uri, dir, imagesDir: join(dir, 'images'), stateDir: join(dir, 'state'), scratchDir: join(dir, 'scratch'), pid: child.pid!, virsh,
    async stop() {
      const names = (await virsh('list', '--all', '--name').catch(() => '')).split('\n').map((s) => s.trim()).filter(Boolean);
      for (const vm of names) {
        await virsh('destroy', vm).catch(() => undefined);
        await virsh('undefine', vm, '--checkpoints-metadata').catch(() => undefined);
      }
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
