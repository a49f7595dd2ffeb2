// What a fleet run proves at its end: each VM's latest backup restores to exactly the VM's
// disk (`vmbak restore --verify`, then `qemu-img compare` with the source), and nothing is
// left behind — no libvirt backup job or checkpoint beyond the one the next incremental
// needs on any host, no run record, scratch file or overlay, no job still queued or running,
// and nothing in the repository that gc would delete (packs gc holds for its grace period are
// reported apart: they are gc's safety margin, not garbage).

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { vmbak } from '../../test/support/vmbak-cli.ts';
import type { SimulatedHost } from './hosts.ts';
import type { FleetVm } from './vms.ts';
import { PASSPHRASE } from './stack.ts';

const run = promisify(execFile);

export interface RestoreCheck {
  readonly verified: boolean;
  readonly detail: string;
}

/** Restores VM's latest backup from REPO into a temp dir and compares it with the VM's disk. */
export async function verifyLatestRestore(repo: string, vm: FleetVm, scratch: string): Promise<RestoreCheck> {
  const to = mkdtempSync(join(scratch, `restore-${vm.name}-`));
  try {
    const restored = await vmbak(['restore', `${vm.name}@latest`, '--repo', repo, '--to', to, '--verify', '--json'], { VMBAK_PASSPHRASE: PASSPHRASE });
    if (restored.code !== 0) return { verified: false, detail: `restore: ${restored.stderr.trim()}` };
    // -U: the source is open (paused VM); nothing writes it.
    const cmp = await run('qemu-img', ['compare', '-U', '-f', 'raw', '-F', 'qcow2', join(to, 'vda.raw'), vm.diskPath]).then(() => null, (err: { stdout?: string; message: string }) => err.stdout || err.message);
    return cmp === null ? { verified: true, detail: 'restore --verify and qemu-img compare: identical' } : { verified: false, detail: `compare: ${cmp.trim()}` };
  } finally {
    rmSync(to, { recursive: true, force: true });
  }
}

/** Leftovers on one host: libvirt jobs, extra checkpoints, run records, scratch files, stray files beside the disks. */
export async function hostLeftovers(host: SimulatedHost, vms: readonly FleetVm[]): Promise<string[]> {
  const found: string[] = [];
  for (const vm of vms.filter((v) => v.host === host.name)) {
    const job = await host.virsh('domjobinfo', vm.name).catch((err: Error) => `error: ${err.message}`);
    if (!/Job type:\s+None/.test(job)) found.push(`${host.name}: libvirt job on ${vm.name}: ${job.split('\n')[0]}`);
    const checkpoints = (await host.virsh('checkpoint-list', vm.name, '--name')).split('\n').map((s) => s.trim()).filter(Boolean);
    // One checkpoint per VM is the base of its next incremental; more are strays.
    if (checkpoints.length > 1) found.push(`${host.name}: ${vm.name} has ${checkpoints.length} checkpoints (${checkpoints.join(', ')})`);
    // A persistent dirty bitmap no checkpoint owns (a moved VM's, from its old host) costs every guest write.
    const info = JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', vm.diskPath])).stdout) as { 'format-specific'?: { data?: { bitmaps?: { name: string }[] } } };
    const strayBitmaps = (info['format-specific']?.data?.bitmaps ?? []).map((b) => b.name).filter((b) => !checkpoints.includes(b));
    if (strayBitmaps.length > 0) found.push(`${host.name}: ${vm.name}'s disk has dirty bitmaps no checkpoint owns: ${strayBitmaps.join(', ')}`);
    const beside = readdirSync(join(vm.diskPath, '..')).filter((f) => f !== 'vda.qcow2');
    if (beside.length > 0) found.push(`${host.name}: files beside ${vm.name}'s disk: ${beside.join(', ')}`);
  }
  for (const [what, dir] of [['run records', host.stateDir], ['scratch', host.scratchDir]] as const) {
    const entries = existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((f) => !f.endsWith('.lock')) : [];
    // A run record's own words (owner, VM, mayBeFrozen) say why no sweep took it.
    const shown = entries.slice(0, 5).map((f) => (f.endsWith('.json') ? `${f} ${readFileSync(join(dir, f), 'utf8').trim()}` : f));
    if (entries.length > 0) found.push(`${host.name}: ${what} left in ${dir}: ${shown.join(', ')}`);
  }
  return found;
}

export interface GcCheck {
  readonly leftovers: string[];
  /** Packs gc keeps for its grace period: not garbage yet, reported apart. */
  readonly heldForGrace: unknown;
}

/** What `vmbak gc --dry-run` would delete now (leftovers) and what it holds under its grace period. */
export async function repositoryLeftovers(repo: string): Promise<GcCheck> {
  const gc = await vmbak(['gc', '--repo', repo, '--dry-run', '--json'], { VMBAK_PASSPHRASE: PASSPHRASE });
  if (gc.code !== 0) return { leftovers: [`gc --dry-run failed: ${gc.stderr.trim()}`], heldForGrace: null };
  const plan = JSON.parse(gc.stdout) as { packsDeleted: number; packsCondemned: number; staleLocksRemoved: number; bytesFreed: number; deferredBecause: string | null };
  const leftovers: string[] = [];
  if (plan.packsDeleted > 0) leftovers.push(`repository: ${plan.packsDeleted} unreferenced pack(s) gc would delete (${plan.bytesFreed} bytes)`);
  if (plan.staleLocksRemoved > 0) leftovers.push(`repository: ${plan.staleLocksRemoved} dead lock(s) gc would remove`);
  return { leftovers, heldForGrace: plan.packsCondemned > 0 ? { packs: plan.packsCondemned, why: plan.deferredBecause } : null };
}
