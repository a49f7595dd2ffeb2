// Every VM: search, filter by state and protection, sort, and open one.

import { Button, Group, Select, Text, TextInput } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useDeferredValue, useMemo, useState } from 'react';
import { api, call, type Vm } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { Empty, ErrorNotice, Loading, PageHeader } from '../../ui/index.ts';
import { useAllVms } from './useAllVms.ts';
import { filterVms, type Protection, type SortKey } from './vmFilter.ts';
import { VmTable } from './VmTable.tsx';

export default function VmsPage() {
  const vms = useAllVms();
  const can = useCan();
  const queryClient = useQueryClient();
  const [search, setSearch] = useState('');
  const [state, setState] = useState<Vm['state'] | null>(null);
  const [protection, setProtection] = useState<Protection | null>(null);
  const [sort, setSort] = useState<SortKey>('name');
  const [descending, setDescending] = useState(false);
  const deferredSearch = useDeferredValue(search);
  const shown = useMemo(() => filterVms(vms.data ?? [], { search: deferredSearch, state, protection, sort, descending }),
    [vms.data, deferredSearch, state, protection, sort, descending]);
  const sync = useMutation({
    mutationFn: () => call(api.POST('/api/v1/vms/sync')),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['vms'] }),
  });
  const onSort = (key: SortKey) => {
    if (key === sort) setDescending(!descending);
    else { setSort(key); setDescending(false); }
  };
  return (
    <>
      <PageHeader title="VMs">
        {can('POST /api/v1/vms/sync') && <Button variant="default" loading={sync.isPending} onClick={() => sync.mutate()}>Sync inventory</Button>}
      </PageHeader>
      {sync.isError && <ErrorNotice error={sync.error} action="sync the inventory" />}
      <Group mb="md" align="end">
        <TextInput label="Search" placeholder="name, UUID, host, policy or tag" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={280} />
        <Select label="State" placeholder="any" clearable data={['running', 'paused', 'shutoff', 'other']} value={state} onChange={(v) => setState(v as Vm['state'] | null)} />
        <Select label="Protection" placeholder="any" clearable data={['protected', 'unprotected']} value={protection} onChange={(v) => setProtection(v as Protection | null)} />
      </Group>
      {vms.isPending ? <Loading what="VMs" /> : vms.isError ? <ErrorNotice error={vms.error} action="load the VMs" />
        : vms.data.length === 0 ? <Empty title="No VMs yet">The inventory lists the VMs of the hypervisors the agents reach; sync it to read them now.</Empty>
          : shown.length === 0 ? <Empty title="No VM matches">Change the search or the filters.</Empty> : (
            <>
              <Text size="sm" mb="xs" role="status" data-testid="vm-count">{shown.length} of {vms.data.length} VMs</Text>
              <VmTable vms={shown} sort={sort} descending={descending} onSort={onSort} />
            </>
          )}
    </>
  );
}
