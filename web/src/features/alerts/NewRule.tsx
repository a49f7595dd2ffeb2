// A new alert rule: which events go to which channels. The event kinds are the API's own
// (the Record below fails to compile when the API gains or loses one); "*" is every event.

import { Button, Group, MultiSelect, Stack, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type AlertRuleCreate } from '../../api/index.ts';
import { ErrorNotice } from '../../ui/index.ts';

type EventSelector = AlertRuleCreate['events'][number];

const EVENTS: Record<EventSelector, string> = {
  '*': 'every event', 'job.failed': 'a job failed', 'job.warning': 'a job ended with warnings', 'rpo.missed': 'a VM missed its RPO',
  'verify.failed': 'a verify found damage', 'repository.unreachable': 'a repository cannot be reached', 'repository.nearly-full': 'a repository is nearly full',
  'gc.failed': 'gc failed', 'host.lost': 'a host stopped answering', 'instant.paused': 'an instant-recovery VM was paused',
};

export function NewRule({ channels }: { channels: readonly string[] }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [events, setEvents] = useState<EventSelector[]>(['job.failed']);
  const [to, setTo] = useState<string[]>([]);
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/alerts/rules', { body: { name, events, channels: to } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['alerts', 'rules'] }),
  });
  return (
    <Stack component="section" aria-labelledby="new-rule" gap="xs">
      <Title order={3} size="h5" id="new-rule">New rule</Title>
      <form onSubmit={(e) => { e.preventDefault(); create.mutate(); }}>
        <Group align="end" wrap="wrap">
          <TextInput label="Rule name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <MultiSelect label="Events" w={{ base: '100%', sm: 340 }} value={events} onChange={(v) => setEvents(v as EventSelector[])}
            data={Object.entries(EVENTS).map(([value, label]) => ({ value, label: `${value} — ${label}` }))} />
          <MultiSelect label="To channels" w={{ base: '100%', sm: 260 }} value={to} onChange={setTo} data={[...channels]} placeholder={channels.length ? 'pick' : 'add a channel first'} />
          <Button type="submit" loading={create.isPending} disabled={channels.length === 0}>Add rule</Button>
        </Group>
      </form>
      {create.isError && <ErrorNotice error={create.error} action="add the rule" />}
    </Stack>
  );
}
