// When each repository is looked after next: verify of new backups, verify of all, gc — the
// cron, its time zone and the next run, as the controller's scheduler computes them (GET
// /care-schedule). A task set to false is off. Shown on the repositories and settings pages.

import { Table } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call, type CareRun } from '../../api/index.ts';
import { Empty, ErrorNotice, Loading, formatAgo, formatTime } from '../../ui/index.ts';

const TASKS: Record<CareRun['task'], string> = { verifyNew: 'verify new backups', verifyAll: 'verify all backups', gc: 'gc (free unreferenced data)' };

export function CareSchedule() {
  const care = useQuery({ queryKey: ['care-schedule'], queryFn: () => call(api.GET('/api/v1/care-schedule')), refetchInterval: 60_000 });
  if (care.isPending) return <Loading what="the care schedule" />;
  if (care.isError) return <ErrorNotice error={care.error} action="load the care schedule" />;
  if (care.data.items.length === 0) return <Empty title="Nothing to look after">Care is scheduled per repository; add a repository first.</Empty>;
  return (
    <Table.ScrollContainer minWidth={560}>
      <Table striped data-testid="care-schedule">
        <Table.Thead><Table.Tr><Table.Th>Repository</Table.Th><Table.Th>Task</Table.Th><Table.Th>Schedule</Table.Th><Table.Th>Next run</Table.Th></Table.Tr></Table.Thead>
        <Table.Tbody>
          {care.data.items.map((r) => (
            <Table.Tr key={`${r.repository}/${r.task}`}>
              <Table.Td>{r.repository}</Table.Td><Table.Td>{TASKS[r.task]}</Table.Td>
              <Table.Td>{r.schedule === false ? 'off' : <code>{r.schedule}</code>}{r.timezone ? ` (${r.timezone})` : ''}</Table.Td>
              <Table.Td>{r.nextMs === null ? '—' : `${formatTime(r.nextMs)} (${formatAgo(r.nextMs)})`}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
