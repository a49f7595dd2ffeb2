// The audit log (admins only), newest first: who changed or ran what, on what, with the request
// as the server recorded it (secrets already replaced by [redacted] there). Pages by cursor.

import { Button, Code, Group, Stack, Table } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { api, call } from '../../api/index.ts';
import { Empty, ErrorNotice, Loading, PageHeader, formatTime } from '../../ui/index.ts';

export default function AuditPage() {
  const audit = useInfiniteQuery({
    // Read anew on every visit: people open it right after doing something, to see it recorded.
    queryKey: ['audit'], initialPageParam: undefined as string | undefined, staleTime: 0,
    queryFn: ({ pageParam }) => call(api.GET('/api/v1/audit', { params: { query: { limit: 100, ...(pageParam ? { cursor: pageParam } : {}) } } })),
    getNextPageParam: (last) => last.next ?? undefined,
  });
  const entries = audit.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Stack>
      <PageHeader title="Audit log" />
      {audit.isPending ? <Loading what="audit log" /> : audit.isError ? <ErrorNotice error={audit.error} action="load the audit log" />
        : entries.length === 0 ? <Empty title="Nothing recorded yet" /> : (
          <Table.ScrollContainer minWidth={800}>
            <Table striped data-testid="audit">
              <Table.Thead><Table.Tr><Table.Th>When</Table.Th><Table.Th>Who</Table.Th><Table.Th>Action</Table.Th><Table.Th>On</Table.Th><Table.Th>Detail</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {entries.map((e) => (
                  <Table.Tr key={e.id}>
                    <Table.Td>{formatTime(e.timeMs)}</Table.Td><Table.Td>{e.actor}</Table.Td><Table.Td>{e.action}</Table.Td><Table.Td>{e.target}</Table.Td>
                    <Table.Td><Code style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>{Object.keys(e.detail).length ? JSON.stringify(e.detail) : ''}</Code></Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      {audit.hasNextPage && <Group><Button variant="default" loading={audit.isFetchingNextPage} onClick={() => void audit.fetchNextPage()}>Older entries</Button></Group>}
    </Stack>
  );
}
