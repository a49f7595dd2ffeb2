// Where a restored VM goes: the host (any host that has reported; the backup's own by default)
// and a storage pool of that host with a directory. The lists come from the hosts' inventory
// (GET /hosts); the job checks the pool again on the host, which has the last word.

import { Select } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '../../api/index.ts';
import { formatBytes } from '../../ui/index.ts';

export interface Place { host: string | null; pool: string | null }

export function RestorePlace({ backupHost, value, onChange }: { backupHost: string; value: Place; onChange(place: Place): void }) {
  const hosts = useQuery({ queryKey: ['hosts'], queryFn: () => call(api.GET('/api/v1/hosts', { params: { query: { limit: 1000 } } })) });
  const items = hosts.data?.items ?? [];
  const host = value.host ?? backupHost;
  const pools = (items.find((h) => h.name === host)?.pools ?? []).filter((p) => p.path !== null);
  const hostData = [...new Set([backupHost, ...items.map((h) => h.name)])].map((name) => {
    const h = items.find((x) => x.name === name);
    return { value: name, label: `${name}${name === backupHost ? ' (where it was backed up)' : ''}${h?.state === 'lost' ? ' — lost' : ''}` };
  });
  const poolData = [
    { value: '', label: 'Default (/var/lib/libvirt/images/NAME)' },
    ...pools.map((p) => ({
      value: p.name, disabled: !p.active,
      label: `${p.name} — ${p.path}${p.active ? (p.availableBytes !== null ? `, ${formatBytes(p.availableBytes)} free` : '') : ' (inactive)'}`,
    })),
  ];
  return (
    <>
      <Select label="Host" data={hostData} value={host} allowDeselect={false} searchable
        onChange={(v) => onChange({ host: v && v !== backupHost ? v : null, pool: null })} />
      <Select label="Storage pool" data={poolData} value={value.pool ?? ''} allowDeselect={false}
        description={pools.length === 0 ? 'This host has reported no directory pool; the disks go to the default place.' : undefined}
        onChange={(v) => onChange({ ...value, pool: v || null })} />
    </>
  );
}
