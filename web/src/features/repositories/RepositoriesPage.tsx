// The repositories: where each is, whether credentials are stored (never what), whether the
// config file manages it, and its newest usage sample; when each is verified and gc'd next;
// the prune simulator, and for admins a new repository, its connection tested before it is added.

import { Badge, Stack, Table, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call, type UsageSample } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { CareSchedule } from './CareSchedule.tsx';
import { ConnectionTest } from './ConnectionTest.tsx';
import { PruneSimulator } from './PruneSimulator.tsx';
import { Empty, ErrorNotice, Loading, PageHeader, formatBytes, formatTime } from '../../ui/index.ts';

function newestByRepository(samples: readonly UsageSample[]): Map<string, UsageSample> {
  const out = new Map<string, UsageSample>();
  for (const s of samples) if ((out.get(s.repository)?.timeMs ?? -1) < s.timeMs) out.set(s.repository, s);
  return out;
}

export default function RepositoriesPage() {
  const repositories = useQuery({ queryKey: ['repositories'], queryFn: () => call(api.GET('/api/v1/repositories', { params: { query: { limit: 1000 } } })) });
  const usage = useQuery({
    queryKey: ['usage', 'recent'],
    queryFn: () => call(api.GET('/api/v1/usage', { params: { query: { limit: 1000, sinceMs: Date.now() - 7 * 86_400_000 } } })),
  });
  const newest = newestByRepository(usage.data?.items ?? []);
  const can = useCan();
  return (
    <Stack>
      <PageHeader title="Repositories" />
      {usage.isError && <ErrorNotice error={usage.error} action="load repository usage" />}
      {repositories.isPending ? <Loading what="repositories" /> : repositories.isError ? <ErrorNotice error={repositories.error} action="load the repositories" />
        : repositories.data.items.length === 0 ? <Empty title="No repositories yet">{can('POST /api/v1/repositories') ? 'Add one below: test its connection, then add it.' : 'An admin adds them here or in the config file.'}</Empty> : (
          <Table.ScrollContainer minWidth={800}>
            <Table striped>
              <Table.Thead>
                <Table.Tr><Table.Th>Name</Table.Th><Table.Th>Location</Table.Th><Table.Th>Credentials</Table.Th><Table.Th>Stored</Table.Th><Table.Th>Logical</Table.Th><Table.Th>Dedup</Table.Th><Table.Th>Capacity</Table.Th><Table.Th>Sampled</Table.Th></Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {repositories.data.items.map((r) => {
                  const u = newest.get(r.name);
                  return (
                    <Table.Tr key={r.name}>
                      <Table.Td>{r.name} {r.managedByConfig && <Badge variant="default" size="xs">config file</Badge>}</Table.Td>
                      <Table.Td><code>{r.url}</code></Table.Td>
                      <Table.Td>{r.hasCredentials ? 'stored' : 'none'}</Table.Td>
                      <Table.Td>{formatBytes(u?.storedBytes)}</Table.Td>
                      <Table.Td>{formatBytes(u?.logicalBytes)}</Table.Td>
                      <Table.Td>{u ? `${u.dedupRatio.toFixed(2)}×` : '—'}</Table.Td>
                      <Table.Td>{formatBytes(u?.capacityBytes)}</Table.Td>
                      <Table.Td>{formatTime(u?.timeMs)}</Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      <Title order={2} size="h4">Care schedule</Title>
      <CareSchedule />
      {repositories.data && repositories.data.items.length > 0 && <PruneSimulator repositories={repositories.data.items} />}
      {can('POST /api/v1/repositories/test') && <ConnectionTest mayAdd={can('POST /api/v1/repositories')} />}
    </Stack>
  );
}
