// The VMs as a table that renders only the rows in view (@tanstack/react-virtual), so 5 000
// VMs scroll smoothly; the rows above and below are stand-in spacers, which keeps it a real
// <table> for screen readers. Column headers are sort buttons.

import { Anchor, Table, UnstyledButton } from '@mantine/core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useRef } from 'react';
import { Link } from 'react-router';
import type { Vm } from '../../api/index.ts';
import { StateBadge, formatAgo } from '../../ui/index.ts';
import type { SortKey } from './vmFilter.ts';

const ROW_PX = 41;
const COLUMNS: { key: SortKey | null; label: string }[] = [
  { key: 'name', label: 'Name' }, { key: 'state', label: 'State' }, { key: 'host', label: 'Host' },
  { key: 'policy', label: 'Policy' }, { key: 'lastBackupMs', label: 'Last backup' }, { key: null, label: 'Tags' },
];

interface Props {
  readonly vms: readonly Vm[];
  readonly sort: SortKey;
  readonly descending: boolean;
  onSort(key: SortKey): void;
}

export function VmTable({ vms, sort, descending, onSort }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const rows = useVirtualizer({ count: vms.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_PX, overscan: 10 });
  const items = rows.getVirtualItems();
  const top = items[0]?.start ?? 0;
  const bottom = rows.getTotalSize() - (items.at(-1)?.end ?? 0);
  return (
    <div ref={scroller} style={{ height: '65vh', overflow: 'auto' }} tabIndex={0} aria-label="VMs table" role="region">
      <Table stickyHeader striped highlightOnHover aria-rowcount={vms.length + 1}>
        <Table.Thead>
          <Table.Tr>
            {COLUMNS.map((c) => (
              <Table.Th key={c.label} aria-sort={c.key === sort ? (descending ? 'descending' : 'ascending') : undefined}>
                {c.key ? <UnstyledButton fw={700} fz="sm" onClick={() => onSort(c.key!)}>{c.label}{c.key === sort ? (descending ? ' ↓' : ' ↑') : ''}</UnstyledButton> : c.label}
              </Table.Th>
            ))}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {top > 0 && <tr aria-hidden style={{ height: top }} />}
          {items.map((item) => {
            const vm = vms[item.index]!;
            return (
              <Table.Tr key={vm.uuid} style={{ height: ROW_PX }} aria-rowindex={item.index + 2}>
                <Table.Td><Anchor component={Link} to={`/vms/${vm.uuid}`}>{vm.name}</Anchor></Table.Td>
                <Table.Td><StateBadge state={vm.state} /></Table.Td>
                <Table.Td>{vm.host ?? '—'}</Table.Td>
                <Table.Td>{vm.policy ?? <em>unprotected</em>}</Table.Td>
                <Table.Td>{formatAgo(vm.lastBackupMs)}</Table.Td>
                <Table.Td>{vm.tags.join(', ')}</Table.Td>
              </Table.Tr>
            );
          })}
          {bottom > 0 && <tr aria-hidden style={{ height: bottom }} />}
        </Table.Tbody>
      </Table>
    </div>
  );
}
