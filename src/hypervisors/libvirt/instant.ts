// Instant recovery on libvirt/QEMU: each disk is a local qcow2 overlay whose backing file is an
// NBD export on a unix socket (`json:{"file":{"driver":"nbd",…}}` in the qcow2 header, which
// libvirt turns into a <backingStore type='network'>), and `virsh blockpull` copies the
// backing data into the overlay while the guest runs — once it completes QEMU rewrites the
// overlay's header without a backing file, so neither the running VM nor its next start reads
// the export again.
//
// QEMU's NBD client (one per disk) reconnects only when a request comes after a lost
// connection, and fails that request; a resume would replay guest requests into those failures.
// So before a resume or a pull each disk's client is made to reconnect through the monitor,
// and the resume is still retried until the VM stays running.

import { execFile, spawn } from 'node:child_process';
import { chmod, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { VmbakError } from '../../core/index.ts';
import type { InstantRecoveryOps, VmRunState, VmState } from '../../core/index.ts';
import { removeTree } from '../../host/index.ts';
import { chownToQemu, qemuAccount } from './hot-session.ts';
import { tpmStateDir } from './state-files.ts';
import { connectUri, monitorCommand, virsh, virshRaw } from './virsh.ts';

const run = promisify(execFile);
/** How long a resumed VM must stay running before the export counts as back. */
const RESUME_SETTLE_MS = 1500;
const PULL_ATTEMPTS = 3;
const RECONNECT_READS = 2;
const RECONNECT_WAIT_MS = 300;

export function libvirtInstantOps(uri?: string): InstantRecoveryOps {
  return {
    createOverlay,
    grantSocketAccess: async (socketPath) => {
      await checkQemuCanReach(socketPath);
      // Only QEMU (and root) may connect: the export serves decrypted backup data.
      chownToQemu(socketPath);
      await chmod(socketPath, 0o600);
    },
    vmRunState: (vmName) => vmRunState(vmName, uri),
    pauseVm: async (vmName) => { await virsh(['suspend', vmName], { uri, vm: vmName }); },
    resumeVm: (vmName, timeoutMs) => resumeVm(vmName, timeoutMs, uri),
    pullIntoOverlays: (vmName, disks, onProgress) => pullIntoOverlays(vmName, disks, onProgress, uri),
    referencesSocket: (vmName, socketPath) => referencesSocket(vmName, socketPath, uri),
    removeVm: (vmName) => removeVm(vmName, uri),
  };
}

/** The backing string QEMU (and libvirt's parser of it) understands for an NBD export on a unix socket. */
export function nbdBackingSpec(socketPath: string, exportName: string): string {
  return `json:${JSON.stringify({ file: { driver: 'nbd', server: { type: 'unix', path: socketPath }, export: exportName } })}`;
}

/**
 * QEMU must pass through every directory above the socket; a state directory made 0700 would
 * otherwise show up only as the VM failing to start with a connection error on its disk.
 */
async function checkQemuCanReach(socketPath: string): Promise<void> {
  const ids = qemuAccount();
  if (!ids) return;
  for (let dir = dirname(socketPath); ; dir = dirname(dir)) {
    const s = await stat(dir);
    const mode = s.mode;
    const passes = (mode & 0o001) !== 0 || (s.gid === ids.gid && (mode & 0o010) !== 0) || (s.uid === ids.uid && (mode & 0o100) !== 0);
    if (!passes) {
      throw new VmbakError('USAGE', { detail: `QEMU (uid ${ids.uid}) cannot reach the export socket ${socketPath}: directory ${dir} is not searchable for it (chmod o+x ${dir}, or use another VMBAK_STATE_DIR)` });
    }
    if (dir === dirname(dir)) return;
  }
}

async function createOverlay(path: string, socketPath: string, exportName: string, sizeBytes: number): Promise<void> {
  // -u: the size is known, so the export need not be reachable (nor read) to make the overlay.
  const args = ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-u', '-b', nbdBackingSpec(socketPath, exportName), path, String(sizeBytes)];
  try {
    await run('qemu-img', args);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new VmbakError('OUTPUT_IO', { path, detail: (e.stderr?.trim() || e.message).split('\n')[0]! });
  }
}

async function vmRunState(vmName: string, uri?: string): Promise<VmRunState | null> {
  let out: string;
  try {
    out = await virshRaw(['domstate', vmName, '--reason'], { uri });
  } catch (err) {
    if (/failed to get domain|Domain not found/i.test((err as Error).message)) return null;
    throw new VmbakError('LIBVIRT_FAILED', { op: 'domstate', vm: vmName, detail: (err as Error).message }, { cause: err });
  }
  const m = /^\s*([a-z ]+?)\s*(?:\(([^)]*)\))?\s*$/m.exec(out);
  const word = m?.[1] ?? '';
  const state: VmState = word === 'running' ? 'running' : word === 'paused' ? 'paused' : word === 'shut off' ? 'shutoff' : 'other';
  return { state, reason: m?.[2] ?? '' };
}

/**
 * After a restart of the export, each disk's NBD client reconnects only when a request comes,
 * and that first request fails (QEMU starts the connection in the background): a resume would
 * replay a guest request into that failure and pause again, once per disk. A read of each NBD
 * node through the monitor (no guest involved, works while paused) reconnects them first.
 */
async function reconnectBackingExports(vmName: string, uri?: string): Promise<void> {
  const out = await monitorCommand(vmName, JSON.stringify({ execute: 'query-named-block-nodes', arguments: { flat: true } }), { uri });
  const nodes = (JSON.parse(out) as { return: { 'node-name': string; drv: string }[] }).return.filter((n) => n.drv === 'nbd');
  for (const n of nodes) {
    for (let i = 0; i < RECONNECT_READS; i++) {
      await monitorCommand(vmName, `qemu-io ${n['node-name']} "read 0 512"`, { uri, hmp: true }).catch(() => undefined);
      await sleep(RECONNECT_WAIT_MS);
    }
  }
}

async function resumeVm(vmName: string, timeoutMs: number, uri?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    // Again on every round: a disk that failed once more has a reconnecting client again.
    await reconnectBackingExports(vmName, uri);
    const now = await vmRunState(vmName, uri);
    if (!now) throw new VmbakError('VM_NOT_FOUND', { pattern: vmName, uri: connectUri(uri) });
    if (now.state === 'paused') await virshRaw(['resume', vmName], { uri }).catch((err: Error) => { last = err.message; });
    await sleep(RESUME_SETTLE_MS);
    const after = await vmRunState(vmName, uri);
    if (after?.state === 'running') return;
    last = after ? `it is ${after.state}${after.reason ? ` (${after.reason})` : ''}` : last;
    if (Date.now() > deadline) throw new VmbakError('LIBVIRT_FAILED', { op: 'resume', vm: vmName, detail: `still not running after ${timeoutMs} ms: ${last}` });
  }
}

async function pullIntoOverlays(vmName: string, disks: readonly string[], onProgress: (disk: string, fraction: number) => void, uri?: string): Promise<void> {
  await reconnectBackingExports(vmName, uri);
  for (const disk of disks) {
    for (let attempt = 1; ; attempt++) {
      try {
        await blockPull(vmName, disk, (f) => onProgress(disk, f), uri);
        break;
      } catch (err) {
        // Each disk's NBD client reconnects only on its first request after a restart of the
        // export, and that request fails: a disk the guest has not read since fails the first pull.
        if (attempt >= PULL_ATTEMPTS) throw err;
        await sleep(1000);
      }
    }
  }
  if (await hasBackingStore(vmName, uri)) {
    throw new VmbakError('INSTANT_MIGRATE_FAILED', { vm: vmName, detail: 'a disk still has a backing store after blockpull' });
  }
}

/** `virsh blockpull --wait --verbose` prints "Block Pull: [ 42 %]" (on stderr) as it goes; each becomes a progress call. */
function blockPull(vmName: string, disk: string, onProgress: (fraction: number) => void, uri?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('virsh', ['-c', connectUri(uri), 'blockpull', vmName, disk, '--wait', '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString()).slice(-4096);
      for (const m of d.toString().matchAll(/\[\s*(\d+)\s*%\]/g)) onProgress(Number(m[1]) / 100);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4096);
      for (const m of d.toString().matchAll(/\[\s*(\d+)\s*%\]/g)) onProgress(Number(m[1]) / 100);
    });
    child.on('error', (err) => reject(new VmbakError('INSTANT_MIGRATE_FAILED', { vm: vmName, detail: `virsh: ${err.message}` })));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new VmbakError('INSTANT_MIGRATE_FAILED', { vm: vmName, detail: `blockpull of ${disk}: ${(stderr + stdout).replace(/Block Pull: \[[^\]]*\]/g, '').replace(/^error:\s*/gm, '').trim().split('\n').join(': ') || `virsh exited with ${code}`}` }));
    });
  });
}

async function hasBackingStore(vmName: string, uri?: string): Promise<boolean> {
  const xml = await virsh(['dumpxml', vmName], { uri, vm: vmName });
  return /<backingStore\b[^>]*\btype=/.test(xml);
}

async function referencesSocket(vmName: string, socketPath: string, uri?: string): Promise<boolean> {
  const live = await virsh(['dumpxml', vmName], { uri, vm: vmName });
  const stored = await virsh(['dumpxml', '--inactive', vmName], { uri, vm: vmName });
  return live.includes(socketPath) || stored.includes(socketPath);
}

async function removeVm(vmName: string, uri?: string): Promise<void> {
  if (!await vmRunState(vmName, uri)) return;
  const uuid = (await virsh(['domuuid', vmName], { uri, vm: vmName })).trim();
  await virshRaw(['destroy', vmName], { uri }).catch(() => undefined);
  await virshRaw(['undefine', vmName, '--nvram'], { uri })
    .catch(() => virsh(['undefine', vmName], { uri, vm: vmName }));
  // The restored TPM state belongs to this VM alone (filed under its UUID).
  await removeTree(tpmStateDir(uuid)).catch(() => undefined);
}
