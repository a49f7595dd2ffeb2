// Which VMs a selection means: exact names, UUIDs, globs (*, ?) and tag:NAME, evaluated over a
// hypervisor's listing at the moment of the run (so a new VM that matches is picked up). One
// rule for the CLI's --vm, the API and a policy's `vms:` list, so a pattern never means two
// different sets of VMs depending on who asks.

import { VmbakError, type Hypervisor, type VmInfo } from '../core/index.ts';

export type Selectable = Pick<VmInfo, 'name' | 'uuid' | 'tags'>;

export interface VmSelection<T extends Selectable> {
  /** The VMs some pattern matches, in listing order, each once. */
  readonly vms: T[];
  /** Patterns that match no VM, in the order given. */
  readonly unmatched: string[];
}

/** tag:NAME matches a tag; a UUID matches in any case; a glob or an exact name matches the name. */
export function matchesVmPattern(vm: Selectable, pattern: string): boolean {
  if (pattern.startsWith('tag:')) return vm.tags.includes(pattern.slice(4));
  if (pattern.toLowerCase() === vm.uuid) return true;
  if (!/[*?]/.test(pattern)) return vm.name === pattern;
  return globToRegExp(pattern).test(vm.name);
}

export function selectVms<T extends Selectable>(all: readonly T[], patterns: readonly string[]): VmSelection<T> {
  const chosen = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const matches = all.filter((vm) => matchesVmPattern(vm, pattern));
    if (matches.length === 0) unmatched.push(pattern);
    for (const vm of matches) chosen.add(vm.uuid);
  }
  return { vms: all.filter((vm) => chosen.has(vm.uuid)), unmatched };
}

/** The hypervisor's VMs a selection means; a pattern that matches none is VM_NOT_FOUND. */
export async function findVms(hypervisor: Hypervisor, patterns: readonly string[]): Promise<VmInfo[]> {
  const { vms, unmatched } = selectVms(await hypervisor.listVms(), patterns);
  if (unmatched.length > 0) throw new VmbakError('VM_NOT_FOUND', { pattern: unmatched[0]!, uri: hypervisor.location });
  return vms;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
