// Every VM the inventory knows, read page by page (1000 a page) into one list: search, filter
// and sort on the VMs page then work on what is loaded without asking again.

import { useQuery } from '@tanstack/react-query';
import { api, call, type Vm } from '../../api/index.ts';

async function loadAllVms(): Promise<Vm[]> {
  const all: Vm[] = [];
  let cursor: string | undefined;
  do {
    const page = await call(api.GET('/api/v1/vms', { params: { query: { limit: 1000, cursor } } }));
    all.push(...page.items);
    cursor = page.next ?? undefined;
  } while (cursor);
  return all;
}

export const useAllVms = () => useQuery({ queryKey: ['vms', 'all'], queryFn: loadAllVms });
