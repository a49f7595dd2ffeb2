// How the VMs table narrows and orders what it shows: a text search over name, UUID, host,
// policy and tags; state and protection filters; a sort by any column.

import type { Vm } from '../../api/index.ts';

export type SortKey = 'name' | 'state' | 'host' | 'policy' | 'lastBackupMs';
export type Protection = 'protected' | 'unprotected';

export interface VmFilter {
  readonly search: string;
  readonly state: Vm['state'] | null;
  readonly protection: Protection | null;
  readonly sort: SortKey;
  readonly descending: boolean;
}

export function filterVms(vms: readonly Vm[], f: VmFilter): Vm[] {
  const needle = f.search.trim().toLowerCase();
  const matches = (vm: Vm) => !needle || [vm.name, vm.uuid, vm.host ?? '', vm.policy ?? '', ...vm.tags].some((s) => s.toLowerCase().includes(needle));
  const out = vms.filter((vm) => matches(vm) && (f.state === null || vm.state === f.state)
    && (f.protection === null || (f.protection === 'protected') === (vm.policy !== null)));
  const key = (vm: Vm): string | number => (f.sort === 'lastBackupMs' ? vm.lastBackupMs ?? -1 : (vm[f.sort] ?? '').toString().toLowerCase());
  out.sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    const c = ka < kb ? -1 : ka > kb ? 1 : a.name.localeCompare(b.name);
    return f.descending ? -c : c;
  });
  return out;
}
