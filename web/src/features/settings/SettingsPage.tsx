// Settings: what this controller is (version, data dir, catalog, how jobs run, its hosts), how
// the console looks in this browser (theme, the time zone times are shown in), and when each
// repository is verified and gc'd next. The first and last come from the API (GET /server,
// GET /care-schedule); the display choices stay in this browser.

import { Card, Group, SegmentedControl, SimpleGrid, Stack, Table, Text, Title, useMantineColorScheme, type MantineColorScheme } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { api, call, type ServerInfo } from '../../api/index.ts';
import {
  Empty, ErrorNotice, Loading, PageHeader, StateBadge, formatAgo, formatTime, localZoneName, setTimeZoneChoice, useTimeZoneChoice, type TimeZoneChoice,
} from '../../ui/index.ts';
import { CareSchedule } from '../repositories/CareSchedule.tsx';

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return <Card withBorder padding="sm"><Text size="sm">{label}</Text><Text fw={600} style={{ overflowWrap: 'anywhere' }}>{children}</Text></Card>;
}

function Server({ info }: { info: ServerInfo }) {
  const jobs = info.remoteAgents ? 'by agents on the hosts (Redis)' : info.localAgent ? `in this process, ${info.streams} at once` : 'nowhere: no local agent and no Redis';
  return (
    <Stack gap="xs">
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }} data-testid="server-info">
        <Fact label="Version">vmbak {info.version} on Node.js {info.node}</Fact>
        <Fact label="Data directory"><code>{info.dataDir}</code></Fact>
        <Fact label={`Catalog (${info.catalog.kind === 'postgres' ? 'PostgreSQL' : 'SQLite'})`}><code>{info.catalog.location}</code></Fact>
        <Fact label="Jobs run">{jobs}</Fact>
        <Fact label="Running since">{formatTime(info.startedMs)}</Fact>
      </SimpleGrid>
      <Title order={3} size="h5">Hosts</Title>
      {info.hosts.length === 0 ? <Empty title="No hypervisor host has reported yet">Start vmbak serve with its local agent, or vmbak agent on each host.</Empty> : (
        <Table.ScrollContainer minWidth={480}>
          <Table striped data-testid="hosts">
            <Table.Thead><Table.Tr><Table.Th>Host</Table.Th><Table.Th>State</Table.Th><Table.Th>Connection</Table.Th><Table.Th>Last seen</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>
              {info.hosts.map((h) => (
                <Table.Tr key={h.name}><Table.Td>{h.name}</Table.Td><Table.Td><StateBadge state={h.state} /></Table.Td><Table.Td><code>{h.uri ?? 'local'}</code></Table.Td><Table.Td>{formatAgo(h.lastSeenMs)}</Table.Td></Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

function Display() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  const zone = useTimeZoneChoice();
  return (
    <Group gap="xl" wrap="wrap" align="start">
      <Stack gap={4}>
        <Text size="sm" id="theme-label">Theme</Text>
        <SegmentedControl aria-labelledby="theme-label" value={colorScheme} onChange={(v) => setColorScheme(v as MantineColorScheme)}
          data={[{ value: 'light', label: 'Light' }, { value: 'dark', label: 'Dark' }, { value: 'auto', label: 'As the system' }]} />
      </Stack>
      <Stack gap={4}>
        <Text size="sm" id="zone-label">Times are shown in</Text>
        <SegmentedControl aria-labelledby="zone-label" value={zone} onChange={(v) => setTimeZoneChoice(v as TimeZoneChoice)}
          data={[{ value: 'local', label: `Local time (${localZoneName()})` }, { value: 'UTC', label: 'UTC' }]} />
      </Stack>
    </Group>
  );
}

export default function SettingsPage() {
  const server = useQuery({ queryKey: ['server'], queryFn: () => call(api.GET('/api/v1/server')) });
  return (
    <Stack>
      <PageHeader title="Settings" />
      <Title order={2} size="h4">This browser</Title>
      <Display />
      <Title order={2} size="h4">Server</Title>
      {server.isPending ? <Loading what="the server's facts" /> : server.isError ? <ErrorNotice error={server.error} action="load the server's facts" /> : <Server info={server.data} />}
      <Title order={2} size="h4">Repository care schedule</Title>
      <CareSchedule />
    </Stack>
  );
}
