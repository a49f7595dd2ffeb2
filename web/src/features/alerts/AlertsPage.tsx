// Alerts: the channels (SMTP, webhook — secrets never shown, only whether one is stored), with a
// "Send test" for admins that reports the controller's answer; the rules that route events to
// channels; and the latest deliveries, delivered or not and why. Admins add channels and rules.

import { Badge, Button, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, call } from '../../api/index.ts';
import { useCan } from '../../app/useCan.ts';
import { NewChannel } from './NewChannel.tsx';
import { NewRule } from './NewRule.tsx';
import { Empty, ErrorNotice, Loading, PageHeader, formatTime } from '../../ui/index.ts';

function SendTest({ channel }: { channel: string }) {
  const queryClient = useQueryClient();
  const send = useMutation({
    mutationFn: () => call(api.POST('/api/v1/alerts/channels/{name}/test', { params: { path: { name: channel } } })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: ['alerts', 'deliveries'] }),
  });
  return (
    <>
      <Button size="xs" loading={send.isPending} onClick={() => send.mutate()} aria-label={`Send test to ${channel}`}>Send test</Button>
      {send.isSuccess && <Text size="xs" role="status">Sent (delivery {send.data.deliveryId})</Text>}
      {send.isError && <ErrorNotice error={send.error} action={`send a test to ${channel}`} />}
    </>
  );
}

export default function AlertsPage() {
  const can = useCan();
  const channels = useQuery({ queryKey: ['alerts', 'channels'], queryFn: () => call(api.GET('/api/v1/alerts/channels', { params: { query: { limit: 1000 } } })) });
  const rules = useQuery({ queryKey: ['alerts', 'rules'], queryFn: () => call(api.GET('/api/v1/alerts/rules', { params: { query: { limit: 1000 } } })) });
  const deliveries = useQuery({ queryKey: ['alerts', 'deliveries'], queryFn: () => call(api.GET('/api/v1/alerts/deliveries', { params: { query: { limit: 50 } } })) });
  const mayTest = can('POST /api/v1/alerts/channels/{name}/test');
  return (
    <Stack>
      <PageHeader title="Alerts" />
      <Title order={2} size="h4">Channels</Title>
      {can('POST /api/v1/alerts/channels') && <NewChannel />}
      {channels.isPending ? <Loading what="channels" /> : channels.isError ? <ErrorNotice error={channels.error} action="load the channels" />
        : channels.data.items.length === 0 ? <Empty title="No alert channels">{can('POST /api/v1/alerts/channels') ? 'Add one above (a webhook or email), then send it a test.' : 'An admin adds them here or in the config file.'}</Empty> : (
          <Table.ScrollContainer minWidth={560}>
            <Table striped data-testid="channels">
              <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Type</Table.Th><Table.Th>Where</Table.Th><Table.Th>Secret</Table.Th>{mayTest && <Table.Th>Test</Table.Th>}</Table.Tr></Table.Thead>
              <Table.Tbody>
                {channels.data.items.map((c) => (
                  <Table.Tr key={c.name}>
                    <Table.Td>{c.name} {c.managedByConfig && <Badge variant="default" size="xs">config file</Badge>}</Table.Td>
                    <Table.Td>{c.spec.type}</Table.Td>
                    <Table.Td><code>{c.spec.type === 'webhook' ? c.spec.url : c.spec.host}</code></Table.Td>
                    <Table.Td>{c.hasSecret ? 'stored' : 'none'}</Table.Td>
                    {mayTest && <Table.Td><SendTest channel={c.name} /></Table.Td>}
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      <Title order={2} size="h4">Rules</Title>
      {can('POST /api/v1/alerts/rules') && <NewRule channels={channels.data?.items.map((c) => c.name) ?? []} />}
      {rules.isPending ? <Loading what="rules" /> : rules.isError ? <ErrorNotice error={rules.error} action="load the rules" />
        : rules.data.items.length === 0 ? <Empty title="No alert rules">Without a rule no event is sent anywhere{can('POST /api/v1/alerts/rules') ? ': add one above.' : '.'}</Empty> : (
          <Table.ScrollContainer minWidth={420}>
            <Table striped data-testid="rules">
              <Table.Thead><Table.Tr><Table.Th>Name</Table.Th><Table.Th>Events</Table.Th><Table.Th>Channels</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {rules.data.items.map((r) => (
                  <Table.Tr key={r.name}><Table.Td>{r.name}</Table.Td><Table.Td>{r.events.join(', ')}</Table.Td><Table.Td>{r.channels.join(', ')}</Table.Td></Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      <Title order={2} size="h4">Latest deliveries</Title>
      {deliveries.isPending ? <Loading what="deliveries" /> : deliveries.isError ? <ErrorNotice error={deliveries.error} action="load the deliveries" />
        : deliveries.data.items.length === 0 ? <Empty title="Nothing sent yet">Deliveries appear here once a rule matches an event or a channel is sent a test.</Empty> : (
          <Table.ScrollContainer minWidth={640}>
            <Table striped data-testid="deliveries">
              <Table.Thead><Table.Tr><Table.Th>When</Table.Th><Table.Th>Event</Table.Th><Table.Th>Channel</Table.Th><Table.Th>State</Table.Th><Table.Th>Reason</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>
                {deliveries.data.items.map((d) => (
                  <Table.Tr key={d.id}>
                    <Table.Td>{formatTime(d.createdMs)}</Table.Td><Table.Td>{d.eventKind} {d.eventKey}</Table.Td><Table.Td>{d.channel}</Table.Td>
                    <Table.Td>{d.state}</Table.Td><Table.Td>{d.reason ?? ''}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
    </Stack>
  );
}
