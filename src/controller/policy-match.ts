// Which VMs each policy's selectors match, evaluated over one inventory in one pass: the
// VMs, the selectors that match nothing (the policy is degraded) and the VMs another policy
// matches too (a conflict, shown on both policies; each still backs them up until resolved,
// so no VM goes unprotected, and a VM in a running backup is skipped by the other).

import type { PolicyRecord } from '../catalog/index.ts';
import { selectVms, type Selectable } from '../services/index.ts';

export type PolicyState = 'ok' | 'degraded' | 'conflict';

export interface PolicyMatch<V> {
  readonly vms: readonly V[];
  readonly unmatched: readonly string[];
  /** Matched VMs that other policies match too, with those policies. */
  readonly conflicts: readonly { readonly vm: V; readonly policies: readonly string[] }[];
  readonly state: PolicyState;
}

export function matchPolicies<V extends Selectable>(policies: readonly Pick<PolicyRecord, 'name' | 'spec'>[], vms: readonly V[]): Map<string, PolicyMatch<V>> {
  const selections = policies.map((p) => ({ name: p.name, ...selectVms(vms, p.spec.vms) }));
  const owners = new Map<string, string[]>();
  for (const s of selections) for (const vm of s.vms) owners.set(vm.uuid, [...(owners.get(vm.uuid) ?? []), s.name]);
  return new Map(selections.map((s) => {
    const conflicts = s.vms.filter((vm) => owners.get(vm.uuid)!.length > 1)
      .map((vm) => ({ vm, policies: owners.get(vm.uuid)!.filter((n) => n !== s.name) }));
    const state: PolicyState = conflicts.length > 0 ? 'conflict' : s.unmatched.length > 0 ? 'degraded' : 'ok';
    return [s.name, { vms: s.vms, unmatched: s.unmatched, conflicts, state }];
  }));
}
